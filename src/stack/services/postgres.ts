/**
 * PostgreSQL from Debian's package, its cluster under .local/data/postgres.
 *
 * PostgreSQL refuses to run as root. When the stack runs as root (CI, containers) initdb and the
 * server run as an unprivileged system user (Debian's `postgres` when the package made it, else
 * one we create), which owns the data and socket folders and must be able to traverse the path to
 * them. The server listens on 127.0.0.1 only (password auth, scram-sha-256) and on a unix socket
 * under .local/run (trust, reachable only by its owner and root): the manager's probe and set-up
 * use the socket as the superuser, applications use TCP with the role from stack.yaml.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { AepredError } from '../../shared/errors.js';
import { ensureAptPackage } from '../apt.js';
import type { StackConfig } from '../config.js';
import { lookupUser, type OsUser, runCommand } from '../process.js';
import type { LaunchSpec, ServiceContext, ServiceDef } from '../types.js';

/** The database MLflow's tracking server uses as its backend store. */
export const MLFLOW_DATABASE = 'mlflow';
const SUPERUSER = 'postgres';
/** Tried in order when running as root; the first is there whenever Debian's package is. */
const SERVICE_USERS = ['postgres', 'aepred-pg'] as const;

/** The newest PostgreSQL server binaries Debian installed (/usr/lib/postgresql/<major>/bin). */
export function pgBinDir(root = '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres')))
    .map(Number)
    .sort((a, b) => b - a);
  return majors[0] === undefined ? undefined : join(root, String(majors[0]), 'bin');
}

function requireBinDir(): string {
  const dir = pgBinDir();
  if (!dir)
    throw new AepredError(
      'AEP_STACK_PG_MISSING',
      'PostgreSQL server binaries not found under /usr/lib/postgresql',
    );
  return dir;
}

/** Folder of the server's unix socket; short, because socket paths are limited to 107 bytes. */
export function pgSocketDir(ctx: Pick<ServiceContext, 'localDir'>): string {
  return join(ctx.localDir, 'run', 'postgres');
}

function serviceUser(): OsUser | undefined {
  for (const name of SERVICE_USERS) {
    const u = lookupUser(name);
    if (u) return u;
  }
  return undefined;
}

async function ensureServiceUser(ctx: ServiceContext): Promise<OsUser> {
  const existing = serviceUser();
  if (existing) return existing;
  const name = SERVICE_USERS[1];
  ctx.say(`creating system user ${name} (PostgreSQL will not run as root)`);
  const r = await runCommand('useradd', [
    '--system',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    name,
  ]);
  const u = lookupUser(name);
  if (!u) {
    throw new AepredError(
      'AEP_STACK_NO_USER',
      `could not create system user ${name} (useradd exit ${r.code})`,
      { detail: r.output },
    );
  }
  return u;
}

/**
 * Gives `user` search (x) permission on every ancestor of `dir` it could not traverse. Only the
 * search bit is added ("others" may then pass through, not list), and each change is reported.
 */
function ensureTraversable(ctx: ServiceContext, dir: string, user: OsUser): void {
  const ancestors: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    ancestors.push(d);
    if (d === dirname(d)) break;
  }
  for (const d of ancestors) {
    const st = statSync(d);
    const mode = st.mode & 0o777;
    const canPass =
      (st.uid === user.uid && (mode & 0o100) !== 0) ||
      (st.gid === user.gid && (mode & 0o010) !== 0) ||
      (mode & 0o001) !== 0;
    if (!canPass) {
      ctx.say(`adding o+x to ${d} so ${user.name} can reach its data folder`);
      chmodSync(d, mode | 0o001);
    }
  }
}

function chownTree(path: string, user: OsUser): void {
  chownSync(path, user.uid, user.gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), user);
}

function socketClient(ctx: ServiceContext, database = 'postgres'): pg.Client {
  return new pg.Client({
    host: pgSocketDir(ctx),
    port: ctx.config.services.postgres.port,
    user: SUPERUSER,
    database,
    connectionTimeoutMillis: 2_000,
  });
}

/** The TCP connection string applications use (and MLflow's backend store, with its database). */
export function postgresUrl(config: StackConfig, database = config.services.postgres.database): string {
  const p = config.services.postgres;
  return `postgresql://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@${config.host}:${p.port}/${encodeURIComponent(database)}`;
}

async function ensureRoleAndDatabases(ctx: ServiceContext): Promise<void> {
  const p = ctx.config.services.postgres;
  const client = socketClient(ctx);
  await client.connect();
  try {
    const role = client.escapeIdentifier(p.user);
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [p.user]);
    if (exists.rowCount === 0) await client.query(`CREATE ROLE ${role} LOGIN`);
    // Re-applied every set-up so a password changed in stack.yaml takes effect.
    await client.query(`ALTER ROLE ${role} WITH LOGIN PASSWORD ${client.escapeLiteral(p.password)}`);
    for (const db of [...new Set([p.database, MLFLOW_DATABASE])]) {
      const has = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (has.rowCount === 0) {
        ctx.say(`creating database ${db}`);
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(db)} OWNER ${role}`);
      }
    }
  } finally {
    await client.end();
  }
  // Prove what applications will do: password login over TCP.
  const app = new pg.Client({ connectionString: postgresUrl(ctx.config), connectionTimeoutMillis: 5_000 });
  await app.connect();
  try {
    await app.query('SELECT 1');
  } finally {
    await app.end();
  }
}

export const postgres: ServiceDef = {
  name: 'postgres',
  dependsOn: [],
  // SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
  stopSignal: 'SIGINT',
  stopGraceS: 30,

  ports(config) {
    return [config.services.postgres.port];
  },

  async ensureInstalled(ctx) {
    if (pgBinDir()) return;
    await ensureAptPackage(ctx, 'postgresql', ['/usr/lib/postgresql']);
    requireBinDir();
  },

  async prepare(ctx) {
    const bin = requireBinDir();
    const user = ctx.isRoot ? await ensureServiceUser(ctx) : undefined;
    const socketDir = pgSocketDir(ctx);
    mkdirSync(ctx.dataDir, { recursive: true });
    mkdirSync(socketDir, { recursive: true });
    chmodSync(ctx.dataDir, 0o700);
    chmodSync(socketDir, 0o700);
    if (user) {
      ensureTraversable(ctx, ctx.dataDir, user);
      ensureTraversable(ctx, socketDir, user);
      chownSync(socketDir, user.uid, user.gid);
      chownTree(ctx.dataDir, user);
    }
    if (existsSync(join(ctx.dataDir, 'PG_VERSION'))) return;
    ctx.say(`initdb ${ctx.dataDir} (first run)`);
    const r = await runCommand(
      join(bin, 'initdb'),
      [
        '-D',
        ctx.dataDir,
        '-U',
        SUPERUSER,
        '-E',
        'UTF8',
        '--locale=C',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
      ],
      {
        user,
        cwd: ctx.dataDir,
        env: { ...process.env, ...(user ? { HOME: ctx.dataDir, USER: user.name } : {}) },
      },
    );
    if (r.code !== 0) {
      throw new AepredError('AEP_STACK_PG_INITDB_FAILED', `initdb failed (exit ${r.code})`, {
        detail: r.output.split('\n').slice(-30).join('\n'),
      });
    }
  },

  launch(ctx): LaunchSpec {
    const bin = pgBinDir() ?? '/usr/lib/postgresql/15/bin';
    const user = ctx.isRoot ? serviceUser() : undefined;
    return {
      command: join(bin, 'postgres'),
      args: [
        '-D',
        ctx.dataDir,
        '-p',
        String(ctx.config.services.postgres.port),
        '-h',
        ctx.config.host,
        '-k',
        pgSocketDir(ctx),
        '-c',
        'unix_socket_permissions=0700',
      ],
      ...(user ? { user: user.name } : {}),
    };
  },

  async probe(ctx) {
    const client = socketClient(ctx);
    try {
      await client.connect();
      const r = await client.query<{ one: number }>('SELECT 1 AS one');
      return r.rows[0]?.one === 1;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  },

  afterReady: ensureRoleAndDatabases,
};
