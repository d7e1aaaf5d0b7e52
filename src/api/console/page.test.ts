import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ALERT_STATE_JS, CONSOLE_JS } from './page.js';

// The page's alert bookkeeping is browser JavaScript inside a string: evaluate exactly that source.
// The DOM around it (list items, the count element) runs in Chromium in tests/e2e/console.e2e.test.ts.
interface WireAlert {
  alert_id: string;
  patient_id: string;
  level?: string;
  acknowledged_by?: string | null;
  cleared_at?: string;
}
type Alerts = Map<string, WireAlert>;
const { applyAlertEvent, openAlertCount } = new Function(
  `${ALERT_STATE_JS}\nreturn { applyAlertEvent, openAlertCount };`,
)() as {
  applyAlertEvent(alerts: Alerts, kind: string, a: WireAlert): string[];
  openAlertCount(alerts: Alerts): number;
};

const raised = (patient: string, at: number, level = 'watch'): WireAlert => ({
  alert_id: `${patient}@${at}`,
  patient_id: patient,
  level,
  acknowledged_by: null,
});

describe('console alert bookkeeping (ALERT_STATE_JS)', () => {
  it('alert.cleared removes the patient’s alert and the open count follows the service', () => {
    const alerts: Alerts = new Map();
    expect(applyAlertEvent(alerts, 'alert.raised', raised('A', 1))).toEqual([]);
    expect(applyAlertEvent(alerts, 'alert.raised', raised('B', 2))).toEqual([]);
    expect(openAlertCount(alerts)).toBe(2);
    const removed = applyAlertEvent(alerts, 'alert.cleared', {
      ...raised('A', 1),
      cleared_at: '2025-01-15T07:00:00.000Z',
    });
    expect(removed).toEqual(['A@1']);
    expect([...alerts.keys()]).toEqual(['B@2']);
    expect(openAlertCount(alerts)).toBe(1);
  });

  it('an escalation supersedes the open alert; its clearance closes the escalated one', () => {
    const alerts: Alerts = new Map();
    applyAlertEvent(alerts, 'alert.raised', raised('A', 1));
    expect(applyAlertEvent(alerts, 'alert.raised', raised('A', 2, 'high'))).toEqual(['A@1']);
    expect(openAlertCount(alerts)).toBe(1);
    expect(applyAlertEvent(alerts, 'alert.cleared', raised('A', 2, 'high'))).toEqual(['A@2']);
    expect(openAlertCount(alerts)).toBe(0);
  });

  it('a clearance naming an alert the page missed still closes what the page shows open for that patient', () => {
    const alerts: Alerts = new Map();
    applyAlertEvent(alerts, 'alert.raised', raised('A', 1));
    applyAlertEvent(alerts, 'alert.raised', raised('B', 1));
    // The page never saw the escalation A@2 (e.g. a reconnect): the service now has no open alert for A.
    expect(applyAlertEvent(alerts, 'alert.cleared', raised('A', 2, 'high'))).toEqual(['A@1']);
    expect([...alerts.keys()]).toEqual(['B@1']);
    // A clearance for a patient the page does not show changes nothing.
    expect(applyAlertEvent(alerts, 'alert.cleared', raised('Z', 9))).toEqual([]);
    expect(openAlertCount(alerts)).toBe(1);
  });

  it('acknowledged alerts stay listed but are not open; a clearance leaves other patients’ acks alone', () => {
    const alerts: Alerts = new Map();
    applyAlertEvent(alerts, 'alert.raised', raised('A', 1));
    applyAlertEvent(alerts, 'alert.raised', raised('B', 1));
    expect(
      applyAlertEvent(alerts, 'alert.acknowledged', { ...raised('B', 1), acknowledged_by: 'key:k' }),
    ).toEqual([]);
    expect(openAlertCount(alerts)).toBe(1);
    expect(applyAlertEvent(alerts, 'alert.cleared', raised('A', 1))).toEqual(['A@1']);
    expect([...alerts.keys()]).toEqual(['B@1']);
    expect(openAlertCount(alerts)).toBe(0);
  });

  it('refuses an unknown event kind or an alert without ids, naming it', () => {
    const alerts: Alerts = new Map();
    expect(() => applyAlertEvent(alerts, 'alert.closed', raised('A', 1))).toThrow(
      'unknown alert event kind: alert.closed',
    );
    expect(() => applyAlertEvent(alerts, 'alert.cleared', { patient_id: 'A' } as WireAlert)).toThrow(
      'alert.cleared event without alert_id and patient_id',
    );
    expect(alerts.size).toBe(0);
  });

  it('the page script embeds this bookkeeping, compiles, and handles alert.cleared from the stream', () => {
    expect(CONSOLE_JS).toContain(ALERT_STATE_JS);
    expect(() => new Script(CONSOLE_JS)).not.toThrow();
    expect(CONSOLE_JS).toMatch(
      /source\.addEventListener\('alert\.cleared', \(ev\) => \{ onAlert\('alert\.cleared', JSON\.parse\(ev\.data\)\);/,
    );
    // Every stream kind goes through the same bookkeeping (no path that renders around it).
    for (const kind of ['alert.raised', 'alert.acknowledged'])
      expect(CONSOLE_JS).toContain(`source.addEventListener('${kind}', (ev) => `);
    expect(CONSOLE_JS.match(/renderAlert\(/g)).toHaveLength(2); // its definition and onAlert's call
  });
});
