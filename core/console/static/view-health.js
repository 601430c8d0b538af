// Health: readiness (/ready) and the API process's metrics (/metrics), polled while the view is
// open, with small live charts of the samples taken since (write rate, p95 latency, projector
// lag per partition). A metric this process does not report is shown as such, never as zero.

import { get, publicText } from './api.js';
import { legend, lineChart } from './chart.js';
import { badge, fill, h, table, when } from './dom.js';
import { parsePrometheus, select, total } from './prom.js';
import { latencyQuantile, lagByPartition, writeCount } from './rates.js';

const EVERY_MS = 2000;
const KEEP = 90; // samples per chart: three minutes
const REQUESTS = 'core_http_requests_total';

function counts(samples) {
  const found = new Map();
  for (const s of select(samples, REQUESTS)) {
    const key = `${s.labels.method} ${s.labels.route}`;
    found.set(key, (found.get(key) || 0) + s.value);
  }
  return found;
}

function rate(now, before, seconds) {
  if (before === undefined || seconds <= 0) return null;
  return Math.max(now - before, 0) / seconds;
}

function perSecond(value, measured) {
  return measured ? shown(value, 2) : 'measuring…';
}

function shown(value, digits = 0) {
  return value === null || value === undefined || Number.isNaN(value) ? 'not reported' : value.toFixed(digits);
}

export function createHealthView(panel) {
  let timer = null;
  let previous = null;
  const cards = h('dl', { id: 'health-cards', class: 'cards' });
  const checks = h('div', { id: 'health-checks' });
  const routes = h('div', { id: 'health-routes' });
  const stamp = h('p', { class: 'muted', id: 'health-stamp' });
  const charts = h('div', { id: 'health-charts', class: 'charts' });
  const history = { writes: [], latency: [], lag: new Map() };
  fill(panel, h('h2', {}, 'Health'), h('div', { class: 'toolbar' },
    h('button', { type: 'button', onclick: () => poll() }, 'Refresh now'), stamp), cards, charts, checks, routes);

  const fetched = (p) => p.catch((error) => ({ ok: false, status: 0, text: String(error) }));

  async function poll() {
    // /ready first: its projector check refreshes the lag gauges /metrics then reports.
    const ready = await fetched(publicText('/ready'));
    const metrics = await fetched(publicText('/metrics'));
    const dlq = await deadLetters();
    let readiness = null;
    try { readiness = JSON.parse(ready.text); } catch { readiness = null; }
    const samples = metrics.ok ? parsePrometheus(metrics.text) : [];
    const requests = counts(samples);
    const now = { at: Date.now(), requests, all: [...requests.values()].reduce((a, b) => a + b, 0),
      errors: select(samples, REQUESTS).length
        ? total(samples, REQUESTS, (l) => String(l.status).startsWith('5')) || 0 : null };
    now.samples = samples;
    render(readiness, samples, now, metrics.ok, dlq);
    sample(now);
    renderCharts();
    previous = now;
    stamp.textContent = `Updated ${when(new Date(now.at).toISOString())}, every ${EVERY_MS / 1000}s while this view is open.`;
  }

  function render(readiness, samples, now, metricsOk, dlq) {
    const seconds = previous ? (now.at - previous.at) / 1000 : 0;
    const projector = readiness && readiness.checks ? readiness.checks.projector || {} : {};
    const lag = typeof projector.lag === 'number' ? projector.lag : total(samples, 'core_projector_lag_events');
    const errorRate = now.errors === null ? 'not reported'
      : perSecond(rate(now.errors, previous ? previous.errors || 0 : undefined, seconds), previous);
    fill(cards,
      card('Ready', readiness ? badge(readiness.ready ? 'ready' : 'not ready', readiness.ready ? 'active' : 'deleted') : 'unknown', 'ready'),
      card('Projector lag (events)', shown(lag), 'lag'),
      card('Dead letters', dlq, 'dlq'),
      card('SSE subscribers', shown(total(samples, 'core_sse_subscribers')), 'sse'),
      card('Requests / s', perSecond(previous && rate(now.all, previous.all, seconds), previous), 'rps'),
      card('5xx / s', errorRate, 'errors'),
      card('DB pool in use', shown(total(samples, 'core_db_pool_in_use')), 'pool'),
      card('Outbox backlog', shown(total(samples, 'core_outbox_backlog')), 'outbox'));
    renderChecks(readiness);
    renderRoutes(now.requests, seconds, metricsOk);
  }

  function keep(list, point) {
    list.push(point);
    if (list.length > KEEP) list.shift();
  }

  function sample(now) {
    if (previous) {
      const seconds = (now.at - previous.at) / 1000;
      const writes = rate(writeCount(now.samples), writeCount(previous.samples), seconds);
      if (writes !== null) keep(history.writes, { t: now.at, v: writes });
      const p95 = latencyQuantile(now.samples, previous.samples, 0.95);
      if (p95 !== null) keep(history.latency, { t: now.at, v: p95 * 1000 });
    }
    for (const [partition, lag] of lagByPartition(now.samples)) {
      if (!history.lag.has(partition)) history.lag.set(partition, []);
      keep(history.lag.get(partition), { t: now.at, v: lag });
    }
  }

  function chartBox(name, chart, note) {
    return h('figure', { class: 'chart-box', dataset: { chart: name } }, chart,
      h('figcaption', {}, note));
  }

  function renderCharts() {
    const lagSeries = [...history.lag.entries()].sort((a, b) => a[0] - b[0])
      .map(([partition, points]) => ({ name: `p${partition}`, points }));
    fill(charts,
      chartBox('writes', lineChart({ id: 'chart-writes', title: 'Write rate', unit: 'writes/s',
        series: [{ name: 'writes', points: history.writes }], digits: 2 }),
      'Write rate (POST, PATCH, DELETE under /api/, this API process), per second'),
      chartBox('latency', lineChart({ id: 'chart-latency', title: 'p95 latency', unit: 'ms',
        series: [{ name: 'p95', points: history.latency }], digits: 1 }),
      'p95 latency of /api/ requests between two samples, in ms (from the histogram buckets)'),
      chartBox('lag', lineChart({ id: 'chart-lag', title: 'Projector lag', unit: 'events',
        series: lagSeries, digits: 0 }),
      ['Projector lag per partition, in events ', lagSeries.length ? legend(lagSeries)
        : h('span', { class: 'muted' }, '(not reported yet)')]));
  }

  // The worker counts dead letters in its own metrics, which this page cannot reach; an admin
  // key reads the DLQ topic's size instead.
  async function deadLetters() {
    try {
      return String((await get('/api/v1/admin/dead-letters')).count);
    } catch (error) {
      return error.status === 403 ? 'needs an admin key' : 'not reported';
    }
  }

  function card(label, value, key) {
    return h('div', { class: 'card', dataset: { metric: key } }, h('dt', {}, label), h('dd', {}, value));
  }

  function renderChecks(readiness) {
    const entries = readiness && readiness.checks ? Object.entries(readiness.checks) : [];
    fill(checks, table({
      caption: 'Readiness checks (/ready)',
      columns: [
        { label: 'Check', header: true, cell: ([name]) => name },
        { label: 'State', cell: ([, c]) => badge(c.ok ? 'ok' : 'failing', c.ok ? 'active' : 'deleted') },
        { label: 'Details', cell: ([, c]) => Object.entries(c).filter(([k]) => k !== 'ok').map(([k, v]) => `${k}: ${v}`).join(' · ') || '—' },
      ],
      rows: entries,
      empty: '/ready did not answer.',
    }));
  }

  function renderRoutes(requests, seconds, metricsOk) {
    const rows = [...requests.entries()].map(([route, count]) => ({
      route, count, perSecond: previous ? rate(count, previous.requests.get(route) || 0, seconds) : null,
    })).sort((a, b) => (b.perSecond || 0) - (a.perSecond || 0) || b.count - a.count).slice(0, 15);
    fill(routes, table({
      caption: 'Requests by route (this API process)',
      columns: [
        { label: 'Route', header: true, cell: (r) => r.route },
        { label: 'Per second', cell: (r) => perSecond(r.perSecond, r.perSecond !== null) },
        { label: 'Total', cell: (r) => String(r.count) },
      ],
      rows,
      empty: metricsOk ? 'No request counted yet.' : '/metrics did not answer.',
    }));
  }

  return {
    load: () => { poll(); clearInterval(timer); timer = setInterval(poll, EVERY_MS); },
    hide: () => { clearInterval(timer); timer = null; },
  };
}
