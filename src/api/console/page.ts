/** The coordinator console: one static page, its script and style; data comes from the API. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aepred · coordinator console</title>
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<header>
  <h1>aepred <span>coordinator console</span></h1>
  <label>Site <input id="site-filter" placeholder="all sites" size="10"></label>
  <span id="stream-status" data-state="closed">stream: closed</span>
  <span id="who"></span>
  <button id="logout" hidden>Sign out</button>
</header>
<section id="login" hidden>
  <form id="login-form">
    <label>API key <input id="api-key" type="password" autocomplete="off" size="70"></label>
    <button id="login-button" type="submit">Sign in</button>
    <p id="login-error" role="alert"></p>
  </form>
</section>
<main id="main" hidden>
  <section class="panel">
    <h2>Patients by risk</h2>
    <table id="patients"><thead><tr><th>Patient</th><th>Site</th><th>Risk</th><th>p(AE)</th><th>As of</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="panel">
    <h2>Live alerts <span id="alert-count">0</span></h2>
    <ul id="alerts"></ul>
  </section>
  <section class="panel" id="detail">
    <h2>Patient <span id="detail-patient">—</span></h2>
    <svg id="trend" viewBox="0 0 400 160" preserveAspectRatio="none" role="img" aria-label="risk trend">
      <line x1="0" y1="160" x2="400" y2="160" class="axis"></line>
      <polyline id="trend-line" points=""></polyline>
    </svg>
    <p id="trend-summary"></p>
    <h3>Top risk factors</h3>
    <table id="factors"><thead><tr><th>Feature</th><th>Value</th><th>Attribution</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2330; background: #f4f6f9; }
header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1em; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1em; margin: 0; } header h1 span { font-weight: normal; opacity: .7; }
#stream-status[data-state="open"] { color: #7ee08a; } #stream-status[data-state="closed"] { color: #f08080; }
main { display: grid; grid-template-columns: 1.2fr 1fr 1.2fr; gap: 1em; padding: 1em; }
.panel { background: #fff; border-radius: 6px; padding: .5em 1em; box-shadow: 0 1px 3px #0002; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25em .4em; border-bottom: 1px solid #eee; }
tr.patient-row { cursor: pointer; } tr.patient-row:hover, tr.selected { background: #eef3ff; }
.risk-high { color: #b00020; font-weight: bold; } .risk-medium { color: #b06000; } .risk-low { color: #2e7d32; }
ul#alerts { list-style: none; padding: 0; } li.alert { padding: .4em; margin: .3em 0; border-left: 4px solid #b06000; background: #fff8ec; }
li.alert.level-high { border-color: #b00020; background: #fff0f0; } li.alert.acknowledged { opacity: .55; border-color: #999; }
#trend { width: 100%; height: 160px; background: #fafbfd; } #trend-line { fill: none; stroke: #3355cc; stroke-width: 2; }
.axis { stroke: #ccc; } #login { padding: 2em; } #login-error { color: #b00020; }
`;

/**
 * The page's alert bookkeeping, without the DOM: plain browser JavaScript, embedded as is in
 * CONSOLE_JS and unit-tested by evaluating this same source (console/page.test.ts).
 * `alerts` maps alert_id to the alert (wire shape) shown on the page; `applyAlertEvent` applies one
 * stream event to it and returns the ids whose list items must go; the open count is what the
 * service counts as open: unacknowledged alerts, at most one per patient.
 */
export const ALERT_STATE_JS = `
function applyAlertEvent(alerts, kind, a) {
  if (kind !== 'alert.raised' && kind !== 'alert.acknowledged' && kind !== 'alert.cleared') {
    throw new Error('unknown alert event kind: ' + kind);
  }
  if (!a || typeof a.alert_id !== 'string' || typeof a.patient_id !== 'string') {
    throw new Error(kind + ' event without alert_id and patient_id');
  }
  const removed = [];
  const drop = (id) => { if (alerts.delete(id)) removed.push(id); };
  // A patient has one open alert: an escalation (watch -> high) supersedes the open one, and a
  // clearance closes whatever the page still shows open for the patient, as in the service.
  if (kind === 'alert.cleared' || !a.acknowledged_by) {
    for (const [id, o] of alerts) if (o.patient_id === a.patient_id && !o.acknowledged_by && id !== a.alert_id) drop(id);
  }
  if (kind === 'alert.cleared') drop(a.alert_id);
  else alerts.set(a.alert_id, a);
  return removed;
}

function openAlertCount(alerts) {
  let n = 0;
  for (const a of alerts.values()) if (!a.acknowledged_by) n++;
  return n;
}
`;

export const CONSOLE_JS = `
${ALERT_STATE_JS}
const $ = (s) => document.querySelector(s);
let source = null;
let selected = null;
const alerts = new Map();

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(path, init = {}) {
  const r = await fetch(path, { credentials: 'same-origin', headers: { 'content-type': 'application/json' }, ...init });
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : null;
  if (!r.ok) throw Object.assign(new Error(body?.error?.message ?? r.statusText), { status: r.status, body });
  return body;
}

function site() { return $('#site-filter').value.trim(); }

async function loadPatients() {
  const q = site() ? '?site=' + encodeURIComponent(site()) : '';
  const { patients } = await api('/patients' + q);
  const tbody = $('#patients tbody');
  tbody.replaceChildren();
  for (const p of patients) {
    const tr = el('tr', { class: 'patient-row', 'data-patient': p.patient_id });
    if (p.patient_id === selected) tr.classList.add('selected');
    tr.append(el('td', {}, p.patient_id), el('td', {}, p.site_id), el('td', { class: 'risk-' + p.risk_level }, p.risk_level),
      el('td', {}, p.adverse_event_probability.toFixed(3)), el('td', {}, p.at.replace('T', ' ').slice(0, 16)));
    tr.addEventListener('click', () => showPatient(p.patient_id));
    tbody.append(tr);
  }
}

function alertItem(id) { return document.querySelector('li.alert[data-alert-id="' + CSS.escape(id) + '"]'); }

// One stream event (or one alert of GET /alerts, as alert.raised): the list and the open count follow.
function onAlert(kind, a) {
  for (const id of applyAlertEvent(alerts, kind, a)) alertItem(id)?.remove();
  if (kind !== 'alert.cleared') renderAlert(a);
  $('#alert-count').textContent = String(openAlertCount(alerts));
}

function renderAlert(a) {
  let li = alertItem(a.alert_id);
  if (!li) { li = el('li', { 'data-alert-id': a.alert_id, 'data-patient': a.patient_id }); $('#alerts').prepend(li); }
  li.className = 'alert level-' + a.level + (a.acknowledged_by ? ' acknowledged' : '');
  li.replaceChildren(
    el('strong', { class: 'alert-patient' }, a.patient_id), document.createTextNode(' · site ' + a.site_id + ' · '),
    el('span', { class: 'risk-' + (a.level === 'high' ? 'high' : 'medium') }, a.level + ' ' + a.probability.toFixed(3)),
    document.createTextNode(' · ' + a.at.replace('T', ' ').slice(0, 16) + ' '));
  if (a.acknowledged_by) li.append(el('span', { class: 'ack-by' }, 'acknowledged by ' + a.acknowledged_by));
  else {
    const b = el('button', { class: 'ack' }, 'Acknowledge');
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { onAlert('alert.acknowledged', await api('/alerts/' + encodeURIComponent(a.alert_id) + '/acknowledge', { method: 'POST', body: '{}' })); }
      catch (e) { b.disabled = false; b.textContent = 'Retry (' + e.message + ')'; }
    });
    li.append(b);
  }
  li.querySelector('.alert-patient').addEventListener('click', () => showPatient(a.patient_id));
}

async function loadAlerts() {
  const q = site() ? '?site=' + encodeURIComponent(site()) : '';
  const { alerts: list } = await api('/alerts' + q);
  $('#alerts').replaceChildren();
  alerts.clear();
  for (const a of list.reverse()) onAlert('alert.raised', a);
  $('#alert-count').textContent = String(openAlertCount(alerts));
}

function connect() {
  if (source) source.close();
  const q = site() ? '?site=' + encodeURIComponent(site()) : '';
  source = new EventSource('/alerts/stream' + q);
  const status = $('#stream-status');
  source.onopen = () => { status.dataset.state = 'open'; status.textContent = 'stream: live'; };
  source.onerror = () => { status.dataset.state = 'closed'; status.textContent = 'stream: reconnecting'; };
  source.addEventListener('alert.raised', (ev) => { onAlert('alert.raised', JSON.parse(ev.data)); loadPatients(); });
  source.addEventListener('alert.acknowledged', (ev) => onAlert('alert.acknowledged', JSON.parse(ev.data)));
  // The patient's risk fell back: the service closed the open alert, so the page drops it too.
  source.addEventListener('alert.cleared', (ev) => { onAlert('alert.cleared', JSON.parse(ev.data)); loadPatients(); });
  source.addEventListener('reset', () => loadAlerts());
}

async function showPatient(id) {
  selected = id;
  for (const tr of document.querySelectorAll('tr.patient-row')) tr.classList.toggle('selected', tr.dataset.patient === id);
  $('#detail-patient').textContent = id;
  const [{ scores }, pred] = await Promise.all([
    api('/patients/' + encodeURIComponent(id) + '/scores'),
    api('/predict', { method: 'POST', body: JSON.stringify({ patient_id: id, timestamp: new Date().toISOString() }) }),
  ]);
  const n = scores.length;
  const pts = scores.map((s, i) => ((n < 2 ? 0 : (i / (n - 1)) * 400).toFixed(1) + ',' + (160 - s.adverse_event_probability * 160).toFixed(1)));
  $('#trend-line').setAttribute('points', pts.join(' '));
  $('#trend-summary').textContent = n + ' scores; now ' + pred.adverse_event_probability.toFixed(3) + ' (' + pred.risk_level + ', model ' + pred.model_version + ')';
  const tbody = $('#factors tbody');
  tbody.replaceChildren();
  for (const f of pred.top_risk_factors) {
    const tr = el('tr', { class: 'factor' });
    tr.append(el('td', {}, f.feature), el('td', {}, f.value === null ? '—' : String(Math.round(f.value * 100) / 100)), el('td', {}, f.attribution.toFixed(4)));
    tbody.append(tr);
  }
}

async function start() {
  try {
    const who = await api('/session');
    $('#who').textContent = who.name + ' (' + who.role + ')';
  } catch {
    $('#login').hidden = false; $('#main').hidden = true; $('#logout').hidden = true;
    return;
  }
  $('#login').hidden = true; $('#main').hidden = false; $('#logout').hidden = false;
  await Promise.all([loadPatients(), loadAlerts()]);
  connect();
  // Scores move without alerts: the list is refreshed on every alert and every 15 s.
  setInterval(() => loadPatients().catch(() => {}), 15000);
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try { await api('/session', { method: 'POST', body: JSON.stringify({ api_key: $('#api-key').value.trim() }) }); $('#api-key').value = ''; await start(); }
  catch (e) { $('#login-error').textContent = e.message; }
});
$('#logout').addEventListener('click', async () => { if (source) source.close(); await api('/session', { method: 'DELETE' }); location.reload(); });
$('#site-filter').addEventListener('change', async () => { await Promise.all([loadPatients(), loadAlerts()]); connect(); });
start();
`;
