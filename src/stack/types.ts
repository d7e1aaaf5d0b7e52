/**
 * The local stack: each real service (Kafka, Postgres, Redis, Prometheus, Alertmanager, MLflow,
 * the S3 object store) is described by one ServiceDef. The manager (src/stack/manager.ts) owns
 * the generic parts: installing what is missing, port checks, spawning detached with a pid file,
 * logs under .local/logs/, waiting on the readiness probe (never a fixed sleep), stopping the whole
 * process group and the status table.
 */
import type { StackConfig } from './config.js';

export type ServiceName = 'postgres' | 'redis' | 'kafka' | 'minio' | 'mlflow' | 'prometheus' | 'alertmanager';

/** What a service needs to know about where it runs. */
export interface ServiceContext {
  readonly config: StackConfig;
  /** .local/ root */
  readonly localDir: string;
  /** .local/data/<service>/ */
  readonly dataDir: string;
  /** .local/logs/<service>.log */
  readonly logFile: string;
  /** Whether this process runs as root (PostgreSQL then runs as an unprivileged user). */
  readonly isRoot: boolean;
  /** Writes a progress line for the user. */
  readonly say: (line: string) => void;
}

export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Run as this unprivileged OS user (root only). */
  readonly user?: string;
}

export interface ServiceDef {
  readonly name: ServiceName;
  /** Services that must be healthy before this one starts. */
  readonly dependsOn: readonly ServiceName[];
  /** Ports (from stack.yaml) the service binds on 127.0.0.1; checked before start. */
  ports(config: StackConfig): readonly number[];
  /** Idempotent: installs binaries/jars when missing (apt, mvn, go install); quick when present. */
  ensureInstalled(ctx: ServiceContext): Promise<void>;
  /** Idempotent: creates data directories, config files, formats storage on first run. */
  prepare(ctx: ServiceContext): Promise<void>;
  launch(ctx: ServiceContext): LaunchSpec;
  /** Real protocol-level probe; resolves true when the service answers correctly. */
  probe(ctx: ServiceContext): Promise<boolean>;
  /** Optional work once healthy (create topics, buckets, databases). Idempotent. */
  afterReady?(ctx: ServiceContext): Promise<void>;
  /** Signal that asks the service to shut down cleanly; SIGTERM when absent. */
  readonly stopSignal?: NodeJS.Signals;
  /** Seconds to wait after stopSignal before SIGKILL to the whole process group; 20 when absent. */
  readonly stopGraceS?: number;
}
