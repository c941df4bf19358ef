/**
 * The status page at `/`: one self-contained HTML document (its style and script inline, nothing
 * fetched but /status.json from the same origin), refreshed every second, laid out for a
 * 1280-pixel screen. Text from the daemon (recipient names, event types, error messages) only
 * ever reaches the page as textContent, and the Content-Security-Policy admits just the page's
 * own style and script (by hash) and requests to its own origin.
 *
 * For tests and scripts: `body[data-refreshes]` counts the snapshots shown, each recipient row is
 * `tr[data-recipient="name"]` with cells `.kind .state .pending .in-flight .oldest .delivered
 * .redelivered .confirmed .dead-lettered`; FIFO rows `[data-fifo]`, sink rows `[data-sink]`,
 * dead-letter rows `[data-dead-letter]`; the device's fields are `#device-*`.
 */
import { createHash } from 'node:crypto';

const style = `
:root { color-scheme: light; --ink: #1d2430; --muted: #667085; --line: #e3e7ee; --card: #fff;
  --bg: #f4f6f9; --ok: #16794c; --ok-bg: #e3f5ea; --warn: #9a6200; --warn-bg: #fff3d6;
  --bad: #b42318; --bad-bg: #fde8e6; --off: #475467; --off-bg: #eceff3; --bar: #3b6fd8; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 18px; padding: 10px 20px; background: #1d2430;
  color: #fff; }
header h1 { font-size: 16px; margin: 0; letter-spacing: .02em; }
header .field { color: #c5cbd6; }
header .field b { color: #fff; font-weight: 600; }
header .spacer { flex: 1; }
#updated.stale { color: #ffb4a8; }
main { max-width: 1280px; margin: 0 auto; padding: 14px 20px 24px; }
.cards { display: grid; grid-template-columns: 1.35fr 1fr 1fr 1fr; gap: 12px; margin-bottom: 12px; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; }
section { margin-bottom: 12px; padding: 0; overflow: hidden; }
h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted);
  margin: 0 0 8px; font-weight: 600; }
section h2 { margin: 0; padding: 9px 12px; border-bottom: 1px solid var(--line); }
section h2 .count { color: var(--ink); margin-left: 6px; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 3px 10px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.meter { margin: 4px 0 9px; }
.meter .label { display: flex; justify-content: space-between; }
.meter .track { height: 7px; background: var(--off-bg); border-radius: 4px; overflow: hidden;
  margin-top: 3px; }
.meter .fill { height: 100%; width: 0; background: var(--bar); transition: width .3s; }
.meter .fill.high { background: var(--bad); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; text-align: left; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: 12px; background: #fafbfc; }
td.num, th.num { text-align: right; }
tr:last-child td { border-bottom: 0; }
td.empty { color: var(--muted); text-align: center; padding: 10px; }
td.pending.owed { color: var(--warn); font-weight: 600; }
td.wrap { white-space: normal; overflow-wrap: anywhere; }
td.target { min-width: 120px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; background: var(--off-bg); color: var(--off); }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.two section { margin-bottom: 0; }
.muted { color: var(--muted); }
h2.next { margin-top: 10px; }
section.after { margin-top: 12px; }
`;

const script = `
'use strict';
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat('en-US');
const tone = { attached: 'ok', up: 'ok', running: 'ok', detached: 'warn', starting: 'warn',
  booting: 'warn', down: 'bad', failed: 'bad', absent: 'off', closed: 'off' };
let refreshes = 0;
let lastGood = 0;

function n(value) { return value === null || value === undefined ? '–' : number.format(value); }
function age(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
  if (seconds < 60) return seconds.toFixed(1) + ' s';
  const s = Math.floor(seconds);
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}
function bytes(value) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let k = 0;
  while (value >= 1024 && k < units.length - 1) { value /= 1024; k++; }
  return (k === 0 ? value : value.toFixed(1)) + ' ' + units[k];
}
function clock(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '–'; }
function text(id, value) { const el = $(id); if (el.textContent !== value) el.textContent = value; }
function badge(state) {
  const span = document.createElement('span');
  span.className = 'badge ' + (tone[state] || 'off');
  span.textContent = state;
  return span;
}
function cell(row, name, value, numeric) {
  let td = row.querySelector('td.' + name);
  if (td === null) {
    td = document.createElement('td');
    td.className = name + (numeric ? ' num' : '');
    row.appendChild(td);
  }
  if (value instanceof Node) {
    if (td.firstChild === null || td.firstChild.textContent !== value.textContent ||
        td.firstChild.className !== value.className) td.replaceChildren(value);
  } else if (td.textContent !== value) td.textContent = value;
  return td;
}
/** Rows keyed by data-<attr>, kept in the snapshot's order; rows gone are removed. */
function rows(tbodyId, attr, items, key, fill, columns) {
  const body = $(tbodyId);
  const seen = new Set();
  let previous = null;
  for (const item of items) {
    const id = String(key(item));
    seen.add(id);
    let row = null;
    for (const candidate of body.children) if (candidate.dataset[attr] === id) row = candidate;
    if (row === null) { row = document.createElement('tr'); row.dataset[attr] = id; }
    fill(row, item);
    const next = previous === null ? body.firstElementChild : previous.nextElementSibling;
    if (next !== row) body.insertBefore(row, next);
    previous = row;
  }
  for (const row of [...body.children]) {
    const id = row.dataset[attr];
    if (id === undefined || !seen.has(id)) row.remove();
  }
  if (items.length === 0) {
    const row = document.createElement('tr');
    const td = document.createElement('td');
    td.className = 'empty';
    td.colSpan = columns;
    td.textContent = 'none';
    row.appendChild(td);
    body.appendChild(row);
  }
}
function meter(container, key, label, used, capacity) {
  let el = null;
  for (const candidate of container.children) if (candidate.dataset.meter === key) el = candidate;
  if (el === null) {
    el = document.createElement('div');
    el.className = 'meter';
    el.dataset.meter = key;
    el.innerHTML = '<div class="label"><span class="name"></span><span><span class="pending"></span> / <span class="capacity"></span></span></div><div class="track"><div class="fill"></div></div>';
    container.appendChild(el);
  }
  el.querySelector('.name').textContent = label;
  el.querySelector('.pending').textContent = n(used);
  el.querySelector('.capacity').textContent = n(capacity);
  const share = capacity > 0 ? used / capacity : 0;
  const fill = el.querySelector('.fill');
  fill.style.width = (Math.min(1, share) * 100).toFixed(1) + '%';
  fill.classList.toggle('high', share >= 0.8);
  return el;
}

function render(s) {
  text('node-id', s.node.id);
  const phase = $('node-phase');
  phase.replaceChildren(badge(s.node.phase));
  text('uptime', age(s.uptimeSeconds));
  text('connections', n(s.node.connections));
  text('updated', clock(s.time));
  $('updated').classList.remove('stale');

  text('device-path', s.device.path);
  text('device-id', s.device.id);
  text('device-durability', s.device.durability);
  text('device-boots', n(s.device.bootCount));
  text('device-size', bytes(s.device.sizeBytes));
  const g = s.device.geometry;
  text('device-geometry', n(g.bootSlots) + ' boot + ' + n(g.runtimeSlots) + ' runtime slots of ' +
    n(g.slotBytes) + ' B; details ≤ ' + n(g.detailsBytesMax) + ' B; ' + n(g.recipientsMax) + ' recipients');
  text('device-fences', n(s.device.fences));

  const fifos = $('fifos');
  for (const fifo of s.fifos)
    meter(fifos, fifo.name, fifo.name, fifo.pending, fifo.capacity).dataset.fifo = fifo.name;
  text('queue', n(s.queue.length) + ' / ' + n(s.queue.capacity));
  text('emitted', n(s.node.emitted));
  text('rejected-queue-full', n(s.node.rejected.queueFull));
  text('rejected-too-large', n(s.node.rejected.tooLarge));

  const dead = $('dead-letter-meter');
  meter(dead, 'dead-letter', 'section', s.deadLetters.held, s.deadLetters.capacity);
  text('dead-letters-held', n(s.deadLetters.held));
  text('dead-letters-damaged', n(s.deadLetters.damaged));
  text('recovery-replayed', n(s.recovery.replayed));
  text('recovery-discarded', n(s.recovery.discarded));
  text('recovery-count', n(s.recovery.events.length));
  text('recovery-rejected', n(s.recovery.eventsRejected));

  text('recipients-count', n(s.recipients.length));
  rows('recipients', 'recipient', s.recipients, (r) => r.name, (row, r) => {
    row.dataset.state = r.state;
    cell(row, 'name', r.name).classList.add('mono');
    cell(row, 'kind', r.kind);
    cell(row, 'state', badge(r.state));
    cell(row, 'pending', n(r.pending), true).classList.toggle('owed', r.pending > 0);
    cell(row, 'in-flight', n(r.inFlight), true);
    cell(row, 'oldest', age(r.oldestAgeSeconds), true);
    cell(row, 'delivered', n(r.delivered), true);
    cell(row, 'redelivered', n(r.redelivered), true);
    cell(row, 'confirmed', n(r.confirmed), true);
    cell(row, 'dead-lettered', n(r.deadLettered), true);
  }, 10);

  text('sinks-count', n(s.sinks.length));
  rows('sinks', 'sink', s.sinks, (k) => k.name, (row, k) => {
    row.dataset.state = k.state;
    cell(row, 'name', k.name).classList.add('mono');
    cell(row, 'kind', k.kind);
    cell(row, 'target', k.target).classList.add('mono', 'wrap');
    cell(row, 'state', badge(k.state)).title = k.lastError || '';
    cell(row, 'held', n(k.counters.held), true);
    cell(row, 'retried', n(k.counters.retried), true);
    cell(row, 'refused', n(k.counters.refused), true);
  }, 7);

  rows('dead-letters', 'deadLetter', s.deadLetters.latest, (d) => d.recipient + '/' + d.seq, (row, d) => {
    cell(row, 'recipient', d.recipient).classList.add('mono');
    cell(row, 'seq', n(d.seq), true);
    cell(row, 'type', d.type).classList.add('mono');
    cell(row, 'reason', d.reason + (d.detail ? ' ' + d.detail : ''));
    cell(row, 'attempts', n(d.attempts), true);
    cell(row, 'time', clock(d.time).slice(11)).title = clock(d.time);
  }, 6);

  rows('recovery-events', 'event', s.recovery.events.map((e, k) => ({ ...e, k })), (e) => e.k, (row, e) => {
    cell(row, 'type', e.type).classList.add('mono');
    cell(row, 'severity', e.severity);
    cell(row, 'details', JSON.stringify(e.details)).classList.add('mono', 'wrap');
  }, 3);

  refreshes++;
  lastGood = Date.now();
  document.body.dataset.refreshes = String(refreshes);
  document.body.dataset.status = 'ok';
}

async function refresh() {
  try {
    const response = await fetch('/status.json', { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    render(await response.json());
  } catch (error) {
    document.body.dataset.status = 'stale';
    const updated = $('updated');
    updated.classList.add('stale');
    updated.textContent = 'no answer (' + (lastGood ? age((Date.now() - lastGood) / 1000) + ' ago' : 'yet') + ')';
  } finally {
    setTimeout(refresh, 1000);
  }
}
refresh();
`;

const body = `
<header>
  <h1>nvrelay</h1>
  <span class="field">node <b id="node-id" class="mono">–</b></span>
  <span id="node-phase"></span>
  <span class="field">up <b id="uptime">–</b></span>
  <span class="field">connections <b id="connections">–</b></span>
  <span class="spacer"></span>
  <span class="field">updated <b id="updated">–</b></span>
</header>
<main>
  <div class="cards">
    <div class="card">
      <h2>Device</h2>
      <dl>
        <dt>path</dt><dd id="device-path" class="mono">–</dd>
        <dt>id</dt><dd id="device-id" class="mono">–</dd>
        <dt>durability</dt><dd id="device-durability">–</dd>
        <dt>boots</dt><dd id="device-boots">–</dd>
        <dt>size</dt><dd id="device-size">–</dd>
        <dt>layout</dt><dd id="device-geometry">–</dd>
        <dt>fences</dt><dd id="device-fences">–</dd>
      </dl>
    </div>
    <div class="card">
      <h2>FIFOs</h2>
      <div id="fifos"></div>
      <dl>
        <dt>queue</dt><dd id="queue">–</dd>
      </dl>
    </div>
    <div class="card">
      <h2>Producers</h2>
      <dl>
        <dt>emitted</dt><dd id="emitted">–</dd>
        <dt>queue full</dt><dd id="rejected-queue-full">–</dd>
        <dt>too large</dt><dd id="rejected-too-large">–</dd>
      </dl>
      <h2 class="next">Dead letters</h2>
      <div id="dead-letter-meter"></div>
      <dl>
        <dt>held</dt><dd id="dead-letters-held">–</dd>
        <dt>damaged</dt><dd id="dead-letters-damaged">–</dd>
      </dl>
    </div>
    <div class="card">
      <h2>Last recovery</h2>
      <dl>
        <dt>replayed</dt><dd id="recovery-replayed">–</dd>
        <dt>discarded</dt><dd id="recovery-discarded">–</dd>
        <dt>events</dt><dd id="recovery-count">–</dd>
        <dt>not recorded</dt><dd id="recovery-rejected">–</dd>
      </dl>
    </div>
  </div>
  <section>
    <h2>Recipients<span class="count" id="recipients-count"></span></h2>
    <table>
      <thead><tr><th>name</th><th>kind</th><th>state</th><th class="num">pending</th>
        <th class="num">in flight</th><th class="num">oldest pending</th><th class="num">delivered</th>
        <th class="num">redelivered</th><th class="num">confirmed</th><th class="num">dead-lettered</th></tr></thead>
      <tbody id="recipients"></tbody>
    </table>
  </section>
  <div class="two">
    <section>
      <h2>Sinks<span class="count" id="sinks-count"></span></h2>
      <table>
        <thead><tr><th>name</th><th>kind</th><th>target</th><th>state</th><th class="num">held</th>
          <th class="num">retried</th><th class="num">refused</th></tr></thead>
        <tbody id="sinks"></tbody>
      </table>
    </section>
    <section>
      <h2>Latest dead letters</h2>
      <table>
        <thead><tr><th>recipient</th><th class="num">seq</th><th>type</th><th>reason</th>
          <th class="num">attempts</th><th>when (UTC)</th></tr></thead>
        <tbody id="dead-letters"></tbody>
      </table>
    </section>
  </div>
  <section class="after">
    <h2>Recovery events</h2>
    <table>
      <thead><tr><th>type</th><th>severity</th><th>details</th></tr></thead>
      <tbody id="recovery-events"></tbody>
    </table>
  </section>
</main>
`;

/** The page, as served. */
export const statusPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nvrelay status</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body data-refreshes="0" data-status="loading">
${body}
<script>${script}</script>
</body>
</html>
`;

function hash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Only the page's own style and script, and requests to its own origin. */
export const statusPagePolicy = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
