// History and time travel: the subject's events in log order, and a slider that shows the
// subject's memories and slot winners as of any of those events, read from a schema the server
// replays up to that moment (POST /api/v1/admin/replays, then x-core-as-of-schema).

import { call, enc, get } from './api.js';
import { badge, fill, h, short, table, when } from './dom.js';
import { stateOf } from './view-memories.js';

const PAGE = 200;

export function createHistoryView(panel, ctx) {
  let events = [];
  let next = null;
  let asked = 0;
  const heading = h('h2', {}, 'History');
  const timelineBox = h('div', { id: 'timeline' });
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(true) }, 'Load more events');
  const slider = h('input', { type: 'range', id: 'asof-range', min: 1, max: 1, value: 1, step: 1, disabled: true });
  const label = h('output', { id: 'asof-label', for: 'asof-range' }, '—');
  const liveButton = h('button', { type: 'button', id: 'asof-live', onclick: () => showAsOf(events.length) }, 'Latest event');
  const asOfBox = h('div', { id: 'asof-state', 'aria-live': 'polite' });
  slider.addEventListener('input', () => describe(Number(slider.value)));
  slider.addEventListener('change', () => showAsOf(Number(slider.value)));
  fill(panel, heading, h('div', { class: 'toolbar' },
    h('button', { type: 'button', onclick: () => load() }, 'Refresh')), timelineBox, more,
    h('section', { 'aria-labelledby': 'asof-title', class: 'asof' },
      h('h3', { id: 'asof-title' }, 'Time travel'),
      h('p', { class: 'muted' }, 'Move the slider (or use the arrow keys) to see the subject as it was right after an event.'),
      h('div', { class: 'toolbar' }, h('label', { for: 'asof-range' }, 'As of event'), slider, label, liveButton),
      asOfBox));

  async function load(append = false) {
    const subject = ctx.subject();
    heading.textContent = subject ? `History of ${subject}` : 'History';
    if (!subject) { fill(timelineBox, h('p', { class: 'muted' }, 'Open a subject to see its history.')); return; }
    const body = await ctx.guard(get(`/api/v1/subjects/${enc(subject)}/timeline`,
      { limit: PAGE, after: append ? next : undefined }));
    if (!body) return;
    events = append ? events.concat(body.data) : body.data;
    next = body.next_after;
    more.hidden = !next;
    renderTimeline();
    slider.max = Math.max(events.length, 1);
    slider.disabled = events.length === 0;
    if (!append) { slider.value = slider.max; describe(events.length); fill(asOfBox); }
  }

  function renderTimeline() {
    fill(timelineBox, table({
      caption: `${events.length} events in log order`,
      columns: [
        { label: '#', cell: (e) => String(e.n) },
        { label: 'Time', cell: (e) => when(e.occurred_at) },
        { label: 'Type', header: true, cell: (e) => e.type },
        { label: 'Actor', cell: (e) => e.actor || '—' },
        { label: 'Idempotency key', cell: (e) => (e.idempotency_key ? h('code', {}, e.idempotency_key) : '—') },
        { label: 'Outcome', cell: (e) => (e.outcome_status ? String(e.outcome_status) : '—') },
        { label: 'Payload', cell: (e) => (e.redacted ? '(redacted: needs the read scope)' : h('code', { class: 'payload' }, short(e.payload, 140))) },
        { label: 'Position', cell: (e) => e.position },
      ],
      rows: events.map((e, i) => ({ ...e, n: i + 1 })),
      empty: 'No event about this subject yet.',
      rowAttrs: (e) => ({ dataset: { eventType: e.type, n: e.n } }),
    }));
  }

  function describe(n) {
    const event = events[n - 1];
    const text = event ? `#${n} ${event.type} at ${when(event.occurred_at)}` : '—';
    label.textContent = text;
    slider.setAttribute('aria-valuetext', text);
  }

  // A replay is a queued job: 201 when it finished within the request, 202 with a
  // status_url to poll until it is ready (or failed).
  async function replayed(until, superseded) {
    let replay = await ctx.guard(call('POST', '/api/v1/admin/replays', { body: { until } }));
    while (replay && replay.status === 202 && !superseded()) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const job = await ctx.guard(call('GET', replay.data.status_url));
      if (!job) return null;
      if (job.data.status === 'failed') {
        ctx.notify(`Replay ${job.data.schema} failed.`, 'error');
        return null;
      }
      replay = job.data.status === 'ready' ? { status: 201, data: job.data } : replay;
    }
    return replay;
  }

  async function showAsOf(n) {
    const event = events[n - 1];
    if (!event) return;
    slider.value = n;
    describe(n);
    const ticket = ++asked;
    fill(asOfBox, h('p', { class: 'muted', role: 'status' }, `Replaying the log up to ${when(event.occurred_at)}…`));
    const replay = await replayed(event.occurred_at, () => ticket !== asked);
    if (!replay || ticket !== asked) return;
    const schema = replay.data.schema;
    const subject = enc(ctx.subject());
    const [memories, truth] = await Promise.all([
      ctx.guard(get('/api/v1/memories', { subject_id: ctx.subject(), include_superseded: 'true', include_deleted: 'true', limit: 200 }, { asOf: schema })),
      ctx.guard(get(`/api/v1/claims/subject/${subject}/truth`, {}, { asOf: schema })),
    ]);
    if (!memories || !truth || ticket !== asked) return;
    render(event, n, replay.data, memories.data, truth.slots);
  }

  function render(event, n, replay, memories, slots) {
    fill(asOfBox, h('p', { id: 'asof-caption', dataset: { n, schema: replay.schema } },
      `As of event #${n} (${event.type}, ${when(event.occurred_at)}) — replayed schema `,
      h('code', {}, replay.schema), replay.cached ? ' (reused)' : ` (${replay.events} events in ${replay.seconds}s)`),
    h('div', { class: 'columns' },
      table({
        caption: 'Memories then',
        columns: [
          { label: 'Memory', header: true, cell: (m) => [h('span', { class: 'text' }, m.text), h('br'), h('code', {}, m.id)] },
          { label: 'State', cell: (m) => badge(stateOf(m)) },
          { label: 'Superseded by', cell: (m) => (m.superseded_by ? h('code', {}, m.superseded_by) : '—') },
        ],
        rows: memories,
        empty: 'No memory yet.',
        rowAttrs: (m) => ({ dataset: { memoryId: m.id, state: stateOf(m) } }),
      }),
      table({
        caption: 'Slot winners then',
        columns: [
          { label: 'Slot', header: true, cell: (s) => s.slot },
          { label: 'Value', cell: (s) => h('strong', { class: 'winner-value' }, s.object_value) },
          { label: 'Claim', cell: (s) => h('code', {}, s.active_claim_id) },
        ],
        rows: slots,
        empty: 'No slot had a winner.',
        rowAttrs: (s) => ({ dataset: { slot: s.slot } }),
      })));
  }

  return { load, onSubject: () => { asked += 1; fill(asOfBox); } };
}
