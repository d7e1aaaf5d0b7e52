import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/audit/verify.js';
import { REPO_ROOT } from '../../src/shared/paths.js';
import { type RealService, startRealService } from '../integration/api-harness.js';

// The coordinator console end to end: real service (patient actors scoring a real ONNX model, API
// keys and audit chain in Postgres, HTTPS) in real headless Chromium, clicked through like a
// coordinator would. Screenshots are kept in tests/artifacts/console-*.png.
const ARTIFACTS = resolve(REPO_ROOT, 'tests/artifacts');
const N = 24;
const id = (i: number) => `API-${String(i).padStart(4, '0')}`;
const rising = (i: number) => [80, 100, 120, 140, 160, 180, 200, 220].map((h) => h + i);

let svc: RealService;
let context: BrowserContext;
let page: Page;
let profile: string;

/** Chromium trusts exactly the service's self-signed certificate (by its public key), nothing more. */
function spkiHash(certPem: Buffer): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

async function shot(name: string): Promise<void> {
  const path = join(ARTIFACTS, `console-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  expect(statSync(path).size).toBeGreaterThan(5_000);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  svc = await startRealService({ patients: N });
  // Half the patients get a rising heart rate now: the actors score them and raise alerts.
  for (let i = 0; i < N / 2; i++) await svc.feed(id(i), rising(i), Date.now() - 60_000);
  profile = mkdtempSync(join(tmpdir(), 'aepred-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spkiHash(svc.ca)}`,
    ],
    viewport: { width: 1400, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 300_000);

afterAll(async () => {
  await context?.close();
  await svc?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('coordinator console in Chromium', () => {
  it('refuses data without a key, then signs in with a coordinator key', async () => {
    await page.goto(`${svc.url}/console`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#api-key', 'aep_wrong');
    await page.click('#login-button');
    await expect.poll(() => page.textContent('#login-error')).toMatch(/API key/);
    await shot('01-sign-in-refused');
    await page.fill('#api-key', svc.keys.coordinator);
    await page.click('#login-button');
    await page.waitForSelector('#main:not([hidden])');
    await expect.poll(() => page.textContent('#who')).toContain('coordinator');
  });

  it('lists patients by risk, highest first, and the open alerts', async () => {
    await page.waitForSelector('tr.patient-row');
    const probs = await page.$$eval('tr.patient-row td:nth-child(4)', (tds) =>
      tds.map((t) => Number(t.textContent)),
    );
    expect(probs.length).toBe(N / 2);
    expect([...probs].sort((a, b) => b - a)).toEqual(probs);
    const open = (await svc.backend.openAlerts({ limit: 1000 })).length;
    expect(open).toBeGreaterThan(0);
    await expect.poll(() => page.$$eval('li.alert', (l) => l.length)).toBe(open);
    await expect.poll(() => page.textContent('#stream-status')).toBe('stream: live');
    await shot('02-patients-and-alerts');
  });

  it('shows a new alert live over the stream, without a reload', async () => {
    const before = await page.$$eval('li.alert', (l) => l.length);
    for (let i = N / 2; i < N; i++) await svc.feed(id(i), rising(i), Date.now() - 30_000);
    const open = (await svc.backend.openAlerts({ limit: 1000 })).length;
    expect(open).toBeGreaterThan(before);
    await expect.poll(() => page.$$eval('li.alert', (l) => l.length), { timeout: 15_000 }).toBe(open);
    await shot('03-live-alert-arrived');
  });

  it("opens a patient's score trend and top risk factors", async () => {
    const first = await page.getAttribute('tr.patient-row', 'data-patient');
    expect(first).toBeTruthy();
    await page.click('tr.patient-row');
    await expect.poll(() => page.textContent('#detail-patient')).toBe(first);
    await expect
      .poll(() => page.getAttribute('#trend-line', 'points'))
      .toMatch(/^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/);
    await expect.poll(() => page.$$eval('#factors tr.factor', (r) => r.length)).toBeGreaterThan(0);
    expect(await page.textContent('#trend-summary')).toMatch(/model [12]\)/); // 2: a canary patient
    await shot('04-patient-detail');
  });

  it('acknowledges an alert; the acknowledgement is audited with the coordinator key', async () => {
    const alertId = await page.getAttribute('li.alert:not(.acknowledged)', 'data-alert-id');
    expect(alertId).toBeTruthy();
    await page.click(`li.alert[data-alert-id="${alertId}"] button.ack`);
    await page.waitForSelector(`li.alert.acknowledged[data-alert-id="${alertId}"]`);
    expect(await page.textContent(`li.alert[data-alert-id="${alertId}"] .ack-by`)).toMatch(
      /acknowledged by key:/,
    );
    const keyId = /^aep_([a-z0-9]{12})_/.exec(svc.keys.coordinator)?.[1];
    const { rows } = await svc.db.pool.query(
      "SELECT actor, subject FROM audit_log WHERE action = 'alert.acknowledged'",
    );
    expect(rows).toEqual([{ actor: `key:${keyId}`, subject: alertId }]);
    expect(await verifyChain(svc.db.pool)).toMatchObject({ ok: true });
    await shot('05-acknowledged');
  });
});
