/**
 * Replays the feature store's rows of a trial through the closed loop on a SimulatedClock: each row
 * is scored by the ModelSupervisor (production, or staging for canary patients), observed by the
 * DriftSupervisor (prediction + vector now, label `labelDelayMs` later, as labels arrive late) and by
 * the canary. Used by the closed-loop integration test and `scripts/demo/closed-loop.ts`.
 *
 * While a retraining runs the trial clock is held: on a simulated clock the run would otherwise
 * take zero trial time. (In service, trial time is wall time and the run takes its minutes.)
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PatientId } from '../actors/patient/protocol.js';
import { featureVector } from '../monitoring/drift.js';
import type { SimulatedClock } from '../supervisors/clock.js';
import type { DriftSupervisor } from '../supervisors/drift/runtime.js';
import type { ModelSupervisor } from '../supervisors/model/actor.js';
import type { TrainingSupervisor } from '../supervisors/training/runtime.js';
import type { CanaryController } from './canary.js';

export interface ReplayRow {
  readonly t: number;
  readonly patient: PatientId;
  readonly x: Float32Array;
  /** The label when its horizon has elapsed in the data, else null (never observed). */
  readonly label: 0 | 1 | null;
}

const EXPORT = `
import json, sys
from pathlib import Path
import numpy as np
from pipelines.feature_store import get_training_frame
from pipelines.featureset import default_feature_set
fs = default_feature_set()
f = get_training_frame(sys.argv[2], sys.argv[3], root=Path(sys.argv[1]), fs=fs, complete_only=False)
f = f.sort_values(["snapshot_time", "patient_id"], kind="stable")
x = f[list(fs.names)].to_numpy(dtype=np.float64, na_value=np.nan)
t = (f["snapshot_time"].astype("datetime64[ms, UTC]").astype("int64")).to_numpy()
out = {"names": list(fs.names), "rows": [
  [int(ti), str(p), [None if np.isnan(v) else float(v) for v in xi], int(lb) if bool(c) else None]
  for ti, p, xi, lb, c in zip(t, f["patient_id"], x, f["label"], f["label_complete"])]}
sys.stdout.write(json.dumps(out))
`;

/**
 * patient_id -> site_id from a lake's `enrollment/` files (NDJSON, as `aepred simulate` and the
 * importers write them); a line that is not an enrollment row is an error naming file and line.
 */
export function readLakeSites(lake: string): Map<string, string> {
  const dir = join(lake, 'enrollment');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ndjson') || f.endsWith('.json'));
  if (files.length === 0) throw new Error(`${dir}: no enrollment files`);
  const sites = new Map<string, string>();
  for (const f of files.sort()) {
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.trim() === '') return;
        let row: { patient_id?: unknown; site_id?: unknown };
        try {
          row = JSON.parse(line) as typeof row;
        } catch (e) {
          throw new Error(`${join(dir, f)}:${i + 1}: not JSON (${(e as Error).message})`);
        }
        if (typeof row.patient_id !== 'string' || typeof row.site_id !== 'string')
          throw new Error(`${join(dir, f)}:${i + 1}: an enrollment row needs patient_id and site_id`);
        sites.set(row.patient_id, row.site_id);
      });
  }
  return sites;
}

/** The feature store's rows with snapshot time in [start, end), in time order. */
export function loadReplayRows(
  python: string,
  repoRoot: string,
  store: string,
  start: string,
  end: string,
): Promise<{ names: string[]; rows: ReplayRow[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      ['-c', EXPORT, store, start, end],
      { cwd: repoRoot, maxBuffer: 1 << 30 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`feature export failed: ${String(stderr).slice(-2000)}`));
          return;
        }
        const doc = JSON.parse(String(stdout)) as {
          names: string[];
          rows: Array<[number, string, Array<number | null>, 0 | 1 | null]>;
        };
        resolve({
          names: doc.names,
          rows: doc.rows.map(([t, p, x, label]) => ({
            t,
            patient: p as PatientId,
            x: Float32Array.from(x, (v) => (v === null ? Number.NaN : v)),
            label,
          })),
        });
      },
    );
  });
}

export interface ReplayOptions {
  readonly clock: SimulatedClock;
  readonly models: ModelSupervisor;
  readonly drift: DriftSupervisor;
  readonly training: TrainingSupervisor;
  readonly canary: CanaryController;
  readonly names: readonly string[];
  readonly rows: readonly ReplayRow[];
  readonly labelDelayMs: number;
  readonly stepMs: number;
  /** The patient's segment for the per-site drift windows (its site from the enrollment table). */
  readonly segmentOf?: (patient: PatientId) => string | undefined;
}

export class TrialReplay {
  readonly #o: ReplayOptions;
  #next = 0;
  readonly #pending: Array<{ due: number; row: ReplayRow; p: number }> = [];
  scored = 0;
  failed = 0;

  constructor(o: ReplayOptions) {
    this.#o = o;
  }

  get exhausted(): boolean {
    return this.#next >= this.#o.rows.length && this.#pending.length === 0;
  }

  async #score(row: ReplayRow): Promise<void> {
    const o = this.#o;
    const lease = o.models.acquire(row.patient);
    if (!lease) {
      this.failed++;
      o.canary.recordRequest(row.patient, false);
      return;
    }
    try {
      const { risk } = await lease.session.score(row.x);
      this.scored++;
      o.canary.recordRequest(row.patient, true);
      o.drift.observePrediction(row.t, risk, featureVector(this.#o.names, row.x), o.segmentOf?.(row.patient));
      o.canary.recordPrediction(row.patient, row.t, risk);
      if (row.label !== null) this.#pending.push({ due: row.t + o.labelDelayMs, row, p: risk });
    } catch {
      this.failed++;
      o.canary.recordRequest(row.patient, false);
    } finally {
      lease.done();
    }
  }

  /**
   * Advances trial time step by step to `until` (or until `stop` says so), feeding the rows whose
   * time has come and the labels that have arrived; waits for a retraining the checks triggered.
   */
  async runUntil(until: number, stop?: () => boolean): Promise<void> {
    const o = this.#o;
    while (o.clock.now() < until && !(stop?.() ?? false)) {
      const now = Math.min(until, o.clock.now() + o.stepMs);
      const rows = o.rows;
      while (this.#next < rows.length && (rows[this.#next]?.t ?? Infinity) <= now) {
        const row = rows[this.#next++];
        if (row) await this.#score(row);
      }
      for (let i = this.#pending.length - 1; i >= 0; i--) {
        const e = this.#pending[i];
        if (e && e.due <= now) {
          o.drift.observeOutcome(e.row.t, e.p, e.row.label === 1);
          o.canary.recordOutcome(e.row.patient, e.row.t, e.p, e.row.label === 1);
          this.#pending.splice(i, 1);
        }
      }
      o.clock.advance(now - o.clock.now());
      await o.training.idle;
      await o.canary.deciding;
    }
  }
}
