/**
 * Serving under load (issue 8): `POST /predict` over HTTPS with the audit trail on, against the real
 * service (patient actors scoring a real ONNX model, API keys and audit chain in Postgres), 10,000
 * enrolled patients with live actors, 50 keep-alive connections, an open-loop generator at a fixed
 * rate (latency counted from each request's scheduled time, so a stall is not hidden).
 *
 * The generator is a child process (its own CPU account), so each run reports where the CPU went:
 * the service process, the generator, and the Postgres backends of the bench's database, per request,
 * against the machine's budget (cores / rate). Then:
 *   - the sequential breakdown: each part of a request alone, without queueing (actor scoring, key
 *     check, enrollment lookup, one audit commit, the per-row cost of a 50-row group commit, the
 *     whole fastify request in process without socket and TLS, an HTTPS keep-alive round trip, and one
 *     on a new connection each time: the TLS handshake);
 *   - a CPU profile of the service process during one loaded run, self time by component;
 *   - 3 runs at BENCH_RATE (1,000 req/s) and 3 at the PRD point (100 req/s), medians.
 * Writes bench/results/serve.json (median p99 at BENCH_RATE is the headline).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { PgAuditLog } from '../src/audit/log.js';
import { verifyChain } from '../src/audit/verify.js';
import { REPO_ROOT } from '../src/shared/paths.js';
import { call, type RealService, startRealService } from '../tests/integration/api-harness.js';
import { bench, median } from './lib.js';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const PRD_RATE = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

interface GeneratorStats {
  sent: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  throughput: number;
  cpu_ms: number;
  /** Time the generator's main thread was runnable but waiting for a CPU (/proc schedstat). */
  runqueue_ms: number;
}

interface RunStats extends GeneratorStats {
  rate: number;
  server_cpu_ms_per_req: number;
  generator_cpu_ms_per_req: number;
  postgres_cpu_ms_per_req: number;
  cpu_ms_budget_per_req: number;
  /** The service's event-loop thread runnable but not running (other processes had the cores). */
  service_runqueue_wait_ms_per_req: number;
  generator_runqueue_wait_ms_per_req: number;
  load_average_1m: number;
}

// Plain JS for `node -e`: reads its settings as JSON on stdin, writes its stats as JSON on stdout.
const GENERATOR = `
const https = require('node:https');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => run(JSON.parse(input)));
function runqueueMs() {
  try { return Number(require('node:fs').readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6; } catch { return 0; }
}
function run({ url, ca, key, ids, rate, seconds, connections }) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca });
  const lat = []; const statuses = {}; let sent = 0, ok = 0, errors = 0, done = 0;
  const total = Math.round(rate * seconds);
  const cpu0 = process.cpuUsage();
  const wait0 = runqueueMs();
  const start = performance.now() + 50;
  function one(i) {
    const scheduled = start + (i * 1000) / rate;
    const body = JSON.stringify({ patient_id: ids[(i * 7919) % ids.length], timestamp: new Date().toISOString() });
    const req = https.request(url + '/predict', { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': key, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => {
        lat.push(performance.now() - scheduled);
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
        if (res.statusCode === 200) ok++; else errors++;
        finish();
      });
    });
    req.on('error', () => { errors++; statuses.socket = (statuses.socket || 0) + 1; lat.push(performance.now() - scheduled); finish(); });
    req.end(body);
    sent++;
  }
  function finish() {
    if (++done < total) return;
    const wall = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    agent.destroy();
    process.stdout.write(JSON.stringify({ sent, ok, errors, statuses, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: lat[lat.length - 1], throughput: ok / wall, cpu_ms: (cpu.user + cpu.system) / 1000, runqueue_ms: runqueueMs() - wait0 }));
  }
  let i = 0;
  (function tick() {
    const now = performance.now();
    while (i < total && start + (i * 1000) / rate <= now) one(i++);
    if (i < total) setTimeout(tick, Math.max(0, start + (i * 1000) / rate - performance.now()));
  })();
}
`;

function generate(svc: RealService, key: string, ids: string[], rate: number, seconds: number) {
  return new Promise<GeneratorStats>((resolveP, reject) => {
    const child = spawn(process.execPath, ['-e', GENERATOR], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load generator exited ${code}`));
      else resolveP(JSON.parse(out) as GeneratorStats);
    });
    child.stdin.end(
      JSON.stringify({
        url: svc.url,
        ca: svc.ca.toString('utf8'),
        key,
        ids,
        rate,
        seconds,
        connections: CONNECTIONS,
      }),
    );
  });
}

/** CPU (ms) of this bench database's Postgres backends, per pid, from /proc (Linux). */
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux
async function postgresCpu(svc: RealService): Promise<Map<number, number>> {
  const { rows } = await svc.db.pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) * TICK_MS); // utime, stime (fields 14, 15)
    } catch {
      // a backend that exited between the query and the read
    }
  }
  return out;
}

/** Run-queue wait (ms) of this process's main thread: the event loop ready to run, no core free. */
function runqueueMs(): number {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

async function loadRun(
  svc: RealService,
  key: string,
  ids: string[],
  rate: number,
  seconds: number,
): Promise<RunStats> {
  const pg0 = await postgresCpu(svc);
  const cpu0 = process.cpuUsage();
  const wait0 = runqueueMs();
  const g = await generate(svc, key, ids, rate, seconds);
  const cpu = process.cpuUsage(cpu0);
  const wait = runqueueMs() - wait0;
  const pgMs = cpuDelta(pg0, await postgresCpu(svc));
  const per = (ms: number) => Math.round((ms / g.sent) * 1000) / 1000;
  return {
    ...g,
    rate,
    server_cpu_ms_per_req: per((cpu.user + cpu.system) / 1000),
    generator_cpu_ms_per_req: per(g.cpu_ms),
    postgres_cpu_ms_per_req: per(pgMs),
    cpu_ms_budget_per_req: Math.round(((cpus().length * 1000) / rate) * 1000) / 1000,
    service_runqueue_wait_ms_per_req: per(wait),
    generator_runqueue_wait_ms_per_req: per(g.runqueue_ms),
    load_average_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Where one request's time goes, measured sequentially (no queueing): each part alone, then whole. */
async function breakdown(svc: RealService, ids: string[], n: number): Promise<Record<string, number>> {
  const ts = new Date().toISOString();
  const time = async (f: (i: number) => Promise<unknown>) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = performance.now();
      await f(i);
      xs.push(performance.now() - a);
    }
    return round3(median(xs));
  };
  const audit = new PgAuditLog(svc.db.pool, { maxRows: 500 });
  const row = (i: number) => ({ actor: 'key:bench', action: 'bench.probe', subject: String(i) });
  const body = (i: number) => JSON.stringify({ patient_id: ids[i % ids.length], timestamp: ts });
  const headers = { 'content-type': 'application/json', 'x-api-key': svc.keys.reader };
  const fresh = new https.Agent({ keepAlive: false, ca: svc.ca });
  const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca: svc.ca });
  const viaAgent = (agent: https.Agent, i: number) =>
    new Promise<void>((done, fail) => {
      const req = https.request(`${svc.url}/predict`, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? done() : fail(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', fail);
      req.end(body(i));
    });
  const batch50 = await time(async (i) => {
    await Promise.all(Array.from({ length: 50 }, (_, k) => audit.append(row(i * 50 + k))));
  });
  const out = {
    actor_scoring_ms: await time((i) => svc.backend.predict(ids[i % ids.length] ?? '', Date.now())),
    api_key_check_cached_ms: await time(() => svc.auth.authenticate(svc.keys.reader)),
    audit_append_alone_ms: await time((i) => audit.append(row(i))),
    audit_group_commit_50_rows_ms: batch50,
    audit_group_commit_per_row_ms: round3(batch50 / 50),
    fastify_inject_predict_ms: await time(async (i) => {
      const r = await svc.app.inject({ method: 'POST', url: '/predict', headers, payload: body(i) });
      if (r.statusCode !== 200) throw new Error(`inject status ${r.statusCode}`);
    }),
    https_keepalive_predict_ms: await time((i) => viaAgent(kept, i)),
    https_new_connection_predict_ms: await time((i) => viaAgent(fresh, i)),
  };
  // The hash chain inside Postgres: 50 rows' triggers (row lock and update of audit_head, SHA-256
  // over the canonical row), in a transaction rolled back (seq comes from audit_head: no gap).
  const client = await svc.db.pool.connect();
  let explained: { rows: Array<{ 'QUERY PLAN': unknown }> };
  try {
    await client.query('BEGIN');
    explained = await client.query<{ 'QUERY PLAN': unknown }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO audit_log (actor, action, subject, model_version, input_hash, correlation_id, payload)
       SELECT 'key:bench', 'bench.explain', g::text, '', '', '', '{}' FROM generate_series(1, 50) g`,
    );
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
  const doc = explained.rows[0]?.['QUERY PLAN'] as Array<{
    'Execution Time': number;
    Triggers?: Array<{ 'Trigger Name': string; Time: number; Calls: number }>;
  }>;
  const triggers = doc[0]?.Triggers ?? [];
  const chainMs = triggers.reduce((a, t) => a + t.Time, 0);
  await audit.close();
  fresh.destroy();
  kept.destroy();
  return {
    ...out,
    audit_insert_50_rows_in_db_ms: round3(doc[0]?.['Execution Time'] ?? Number.NaN),
    audit_chain_triggers_per_row_ms: round3(chainMs / 50),
  };
}

/** Self time of the service process during one loaded run, by component (V8 sampling profiler). */
async function profile(svc: RealService, ids: string[], seconds: number): Promise<Record<string, unknown>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  await generate(svc, svc.keys.reader, ids, RATE, seconds);
  const { profile: p } = await session.post('Profiler.stop');
  session.disconnect();
  const rules: Array<[string, RegExp]> = [
    ['tls and crypto (JS side)', /node:(_tls|tls|crypto|internal\/(tls|crypto))/],
    ['http parsing and responses', /node:(_http|http|internal\/http)/],
    [
      'sockets, streams, timers, events',
      /node:(net|stream|events|timers|internal\/(streams|stream_base|net|timers|event|async|process))/,
    ],
    [
      'fastify (routing, hooks, reply)',
      /node_modules\/(fastify|find-my-way|avvio|@fastify|light-my-request|fast-querystring|toad-cache)/,
    ],
    ['pg client protocol', /node_modules\/(pg|pg-protocol|pg-pool|pg-types|pgpass)\//],
    ['prom-client metrics', /node_modules\/prom-client/],
    ['onnxruntime', /node_modules\/onnxruntime/],
    ['actors, features, model supervisor', /\/src\/(actors|features|supervisors|service|model)/],
    ['audit (JS side)', /\/src\/audit/],
    ['api handlers and hooks', /\/src\/api/],
    ['api key check', /\/src\/security/],
    ['other node internals', /^node:/],
  ];
  // Builtins and generated code (JSON, promises, schema validators and serializers compiled at
  // start) have no url: their time goes to the nearest caller that has one.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const categoryOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const url = byId.get(cur)?.callFrame.url ?? '';
      if (url !== '') return rules.find(([, re]) => re.test(url))?.[0] ?? 'other JS (node_modules)';
    }
    return 'builtins with no JS caller';
  };
  const by = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const node of p.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += hits;
      continue;
    }
    let cat: string;
    if (functionName === '(garbage collector)') cat = 'garbage collector';
    else if (functionName === '(program)')
      cat = 'native, no JS on stack (TLS record crypto, socket I/O, libuv)';
    else cat = categoryOf(node.id);
    // onnxruntime-node's native inference is a native frame with no url (V8 names it `(anonymous)`,
    // once `endProfiling`, which aepred never calls), filed under onnxruntime through its caller.
    by.set(cat, (by.get(cat) ?? 0) + hits);
    const fn = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/src\//, 'src/')}:${lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + hits);
    busy += hits;
  }
  const pct = (v: number) => Math.round((v / busy) * 1000) / 10;
  return {
    busy_percent_of_samples: Math.round((busy / (busy + idle)) * 1000) / 10,
    by_component_percent_of_busy: Object.fromEntries(
      [...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)]),
    ),
    top_functions_percent_of_busy: Object.fromEntries(
      [...fns]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 15)
        .map(([k, v]) => [k, pct(v)]),
    ),
  };
}

const say = (m: string) => process.stderr.write(`serve bench: ${m}\n`);
const t0 = performance.now();
const svc = await startRealService({ patients: PATIENTS });
const ids = Array.from({ length: PATIENTS }, (_, i) => `API-${String(i).padStart(4, '0')}`);
// Every patient gets a live actor with a short history, as in a running trial.
const now = Date.now();
for (let i = 0; i < PATIENTS; i++)
  await svc.feed(ids[i] ?? '', [70 + (i % 40), 75 + (i % 40), 80 + (i % 40)], now - 60_000);
const setupSeconds = (performance.now() - t0) / 1000;
say(`${PATIENTS} patients with live actors in ${Math.round(setupSeconds)} s`);

try {
  // Warm-up before anything is timed: JIT, TLS sessions, key and enrollment caches.
  await call(svc, 'GET', '/health/live');
  await generate(svc, svc.keys.reader, ids, RATE, 3);
  say('breakdown: sequential');
  const parts = await breakdown(svc, ids, 200);
  say(`breakdown ${JSON.stringify(parts)}`);
  say('profile: one loaded run');
  const cpuProfile = await profile(svc, ids, 5);
  say(`profile ${JSON.stringify(cpuProfile)}`);
  const prd: RunStats[] = [];
  for (let i = 0; i < 3; i++) {
    say(`run at ${PRD_RATE} req/s`);
    const s = await loadRun(svc, svc.keys.reader, ids, PRD_RATE, SECONDS);
    prd.push(s);
    say(
      `p99 ${s.p99.toFixed(1)} ms, event loop waited ${s.service_runqueue_wait_ms_per_req} ms/req for a core`,
    );
  }
  const runs: RunStats[] = [];
  const result = await bench({
    name: 'serve',
    metric: 'p99_latency_ms',
    unit: 'ms',
    runs: 3,
    notes: `POST /predict over HTTPS (TLS on, audit trail on: one durable hash-chained row per prediction, group commit), real patient actors + ONNX model, ${PATIENTS} patients, ${CONNECTIONS} keep-alive connections, open loop at ${RATE} req/s for ${SECONDS} s per run, generator in a child process on the same machine; target p99 <= 10 ms with zero errors`,
    measure: async () => {
      say(`run at ${RATE} req/s`);
      const s = await loadRun(svc, svc.keys.reader, ids, RATE, SECONDS);
      runs.push(s);
      say(
        `p99 ${s.p99.toFixed(1)} ms, server ${s.server_cpu_ms_per_req} ms CPU/req, event loop waited ${s.service_runqueue_wait_ms_per_req} ms/req for a core`,
      );
      return s.p99;
    },
  });
  const chain = await verifyChain(svc.db.pool);
  const summary = (rs: RunStats[]) => ({
    target_rate_per_s: rs[0]?.rate,
    p50_ms_median: median(rs.map((r) => r.p50)),
    p95_ms_median: median(rs.map((r) => r.p95)),
    p99_ms_median: median(rs.map((r) => r.p99)),
    max_ms: Math.max(...rs.map((r) => r.max)),
    throughput_per_s_median: median(rs.map((r) => r.throughput)),
    errors_total: rs.reduce((a, r) => a + r.errors, 0),
    requests_total: rs.reduce((a, r) => a + r.sent, 0),
    cpu_ms_per_request_median: {
      service_process: median(rs.map((r) => r.server_cpu_ms_per_req)),
      load_generator: median(rs.map((r) => r.generator_cpu_ms_per_req)),
      postgres_backends: median(rs.map((r) => r.postgres_cpu_ms_per_req)),
      budget_all_cores: rs[0]?.cpu_ms_budget_per_req,
    },
    runqueue_wait_ms_per_request_median: {
      service_event_loop: median(rs.map((r) => r.service_runqueue_wait_ms_per_req)),
      load_generator: median(rs.map((r) => r.generator_runqueue_wait_ms_per_req)),
    },
    per_run: rs.map(({ statuses: _s, ...r }) => r),
  });
  const out = {
    ...result,
    extra: {
      patients: PATIENTS,
      connections: CONNECTIONS,
      seconds_per_run: SECONDS,
      at_target_rate: summary(runs),
      at_prd_rate: summary(prd),
      breakdown_sequential_ms_median: parts,
      service_cpu_profile_percent: cpuProfile,
      audit_rows_verified: chain.ok ? chain.rows : -1,
      setup_seconds: Math.round(setupSeconds),
      load_average_1m_at_end: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    },
  };
  const { writeFileSync } = await import('node:fs');
  writeFileSync(resolve(REPO_ROOT, 'bench/results/serve.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out.extra, null, 2)}\n`);
} finally {
  await svc.close();
}
