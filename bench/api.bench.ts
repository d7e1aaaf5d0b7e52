/**
 * Serving under load (issue 8): `POST /predict` over HTTPS with the audit trail on, against the real
 * service (patient actors scoring a real ONNX model, API keys and audit chain in Postgres), 10,000
 * enrolled patients with live actors, 50 keep-alive connections, an open-loop generator at a fixed
 * 1,000 req/s (latency counted from each request's scheduled time, so a stall is not hidden). The
 * generator runs in a worker thread (its own event loop) of the same process. Writes
 * bench/results/serve.json: p50/p95/p99 and achieved throughput per run, median of 3 runs of 10 s.
 */
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verifyChain } from '../src/audit/verify.js';
import { startRealService } from '../tests/integration/api-harness.js';
import { bench, median } from './lib.js';

const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

interface RunStats {
  sent: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  throughput: number;
}

// Plain JS so the worker needs no TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const https = require('node:https');
const { url, ca, key, ids, rate, seconds, connections } = workerData;
const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca });
const lat = []; const statuses = {}; let sent = 0, ok = 0, errors = 0, done = 0;
const total = Math.round(rate * seconds);
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
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  agent.destroy();
  parentPort.postMessage({ sent, ok, errors, statuses, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: lat[lat.length - 1], throughput: ok / wall });
}
let i = 0;
(function tick() {
  const now = performance.now();
  while (i < total && start + (i * 1000) / rate <= now) one(i++);
  if (i < total) setTimeout(tick, Math.max(0, start + (i * 1000) / rate - performance.now()));
})();
`;

function load(
  svc: { url: string; ca: Buffer },
  key: string,
  ids: string[],
  seconds: number,
): Promise<RunStats> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { url: svc.url, ca: svc.ca, key, ids, rate: RATE, seconds, connections: CONNECTIONS },
    });
    w.once('message', (m: RunStats) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
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
const runs: RunStats[] = [];

/** Where one request's time goes, measured sequentially (no queueing): each part alone, then whole. */
async function breakdown(n: number): Promise<Record<string, number>> {
  const { call } = await import('../tests/integration/api-harness.js');
  const { PgAuditLog } = await import('../src/audit/log.js');
  const ts = new Date().toISOString();
  const time = async (f: (i: number) => Promise<unknown>) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = performance.now();
      await f(i);
      xs.push(performance.now() - a);
    }
    return Math.round(median(xs) * 1000) / 1000;
  };
  const audit = new PgAuditLog(svc.db.pool, { maxRows: 500 });
  const cpu0 = process.cpuUsage();
  say('breakdown: sequential HTTPS');
  const whole = await time((i) =>
    call(svc, 'POST', '/predict', {
      key: svc.keys.reader,
      body: { patient_id: ids[i % ids.length], timestamp: ts },
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const out = {
    actor_scoring_ms_median: await time((i) => svc.backend.predict(ids[i % ids.length] ?? '', Date.now())),
    audit_append_alone_ms_median: await time((i) =>
      audit.append({ actor: 'key:bench', action: 'bench.probe', subject: String(i) }),
    ),
    https_predict_sequential_ms_median: whole,
    cpu_ms_per_request_in_process: Math.round(((cpu.user + cpu.system) / 1000 / n) * 1000) / 1000,
  };
  await audit.close();
  return out;
}

try {
  const parts = await breakdown(200);
  say(`breakdown ${JSON.stringify(parts)}`);
  await load(svc, svc.keys.reader, ids, 3); // warm-up: JIT, TLS sessions, caches
  const result = await bench({
    name: 'serve',
    metric: 'p99_latency_ms',
    unit: 'ms',
    runs: 3,
    notes: `POST /predict over HTTPS (TLS on, audit trail on: one durable hash-chained row per prediction, group commit), real patient actors + ONNX model, ${PATIENTS} patients, ${CONNECTIONS} keep-alive connections, open loop at ${RATE} req/s for ${SECONDS} s per run, generator in a worker thread of the same process; target p99 <= 10 ms with zero errors`,
    measure: async () => {
      say('run');
      const s = await load(svc, svc.keys.reader, ids, SECONDS);
      runs.push(s);
      return s.p99;
    },
  });
  const chain = await verifyChain(svc.db.pool);
  const rows = chain.ok ? chain.rows : -1;
  const out = {
    ...result,
    extra: {
      patients: PATIENTS,
      connections: CONNECTIONS,
      target_rate_per_s: RATE,
      seconds_per_run: SECONDS,
      p50_ms_median: median(runs.map((r) => r.p50)),
      p95_ms_median: median(runs.map((r) => r.p95)),
      p99_ms_median: median(runs.map((r) => r.p99)),
      max_ms: Math.max(...runs.map((r) => r.max)),
      throughput_per_s_median: median(runs.map((r) => r.throughput)),
      errors_total: runs.reduce((a, r) => a + r.errors, 0),
      requests_total: runs.reduce((a, r) => a + r.sent, 0),
      statuses: runs.map((r) => r.statuses),
      per_run: runs.map(({ statuses: _s, ...r }) => r),
      breakdown_sequential: parts,
      audit_rows_verified: rows,
      setup_seconds: Math.round(setupSeconds),
      load_average_1m_at_end: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    },
  };
  const { writeFileSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const { REPO_ROOT } = await import('../src/shared/paths.js');
  writeFileSync(resolve(REPO_ROOT, 'bench/results/serve.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(out.extra, null, 2)}\n`);
} finally {
  await svc.close();
}
