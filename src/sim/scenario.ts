import type { ScenarioRuntime } from './engine.js';
import { AE } from './model.js';
import { AE_TYPES, type AeType, type SimulatorParams } from './params.js';
import { DAY, iso } from './time.js';

export const SCENARIOS = ['baseline', 'site-drift', 'concept-drift', 'faults'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s);
}

/** What the scenario changes and from when: the engine's runtime form and the manifest's ground truth. */
export function buildScenario(
  name: ScenarioName,
  p: SimulatorParams,
  startMs: number,
  days: number,
): { runtime: ScenarioRuntime; truth: Record<string, unknown> } {
  switch (name) {
    case 'baseline':
    case 'faults':
      return {
        runtime: { name },
        truth: name === 'faults' ? { rates: p.scenarios.faults.rates } : {},
      };
    case 'site-drift': {
      const d = p.scenarios.site_drift;
      const siteIndex = p.sites.findIndex((s) => s.id === d.site);
      if (siteIndex < 0) throw new Error(`site-drift site ${d.site} is not among the sites`);
      const fromMs = startMs + Math.floor(days * d.from_day_fraction) * DAY;
      return {
        runtime: { name, siteDrift: { siteIndex, fromMs, offsets: d.offsets } },
        truth: {
          site_id: d.site,
          from: iso(fromMs),
          device_offsets: d.offsets,
          temperature_offset_unit: 'C',
        },
      };
    }
    case 'concept-drift': {
      const d = p.scenarios.concept_drift;
      const fromMs = startMs + Math.floor(days * d.from_day_fraction) * DAY;
      const rr = new Float64Array(AE_TYPES.length).fill(1);
      for (const [t, v] of Object.entries(d.treatment_rr_scale)) rr[AE[t as AeType]] = v ?? 1;
      return {
        runtime: {
          name,
          conceptDrift: {
            fromMs,
            prodromeHours: d.prodrome_hours,
            vitalScale: d.vital_signature_scale,
            treatmentRrScale: rr,
          },
        },
        truth: {
          from: iso(fromMs),
          prodrome_hours: d.prodrome_hours,
          vital_signature_scale: d.vital_signature_scale,
          treatment_rr_scale: d.treatment_rr_scale,
        },
      };
    }
  }
}
