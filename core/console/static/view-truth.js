// Truth of one subject: current slot winners, the other slots, a slot's history as a timeline
// of asserts, supersessions and retractions, and retraction from the page.

import { call, enc, get } from './api.js';
import { badge, confirmButton, field, fill, h, table, when } from './dom.js';
import { slotChart } from './slot-chart.js';

const RANK = { asserted: 0, superseded: 1, retracted: 2, restored: 3 };

export function slotTimeline(claims, edges, details) {
  const byId = new Map(claims.map((c) => [c.claim_id, c]));
  const value = (id) => (byId.has(id) ? byId.get(id).object_value : id);
  const items = claims.map((c) => ({ kind: 'asserted', at: c.asserted_at, claim: c,
    text: `${c.predicate} = ${c.object_value}` }));
  for (const e of edges.filter((x) => x.edge_type === 'supersedes' && byId.has(x.from_claim_id))) {
    items.push({ kind: 'superseded', at: e.created_at, claim: byId.get(e.from_claim_id),
      text: `${value(e.from_claim_id)} superseded ${value(e.to_claim_id)}` });
  }
  for (const c of claims.filter((x) => x.status === 'retracted')) {
    items.push({ kind: 'retracted', at: c.retracted_at, claim: c,
      text: `${c.object_value} retracted (${c.retract_reason || 'no reason'})` });
    const restores = ((details.get(c.claim_id) || {}).edges || [])
      .filter((e) => e.edge_type === 'retracts' && e.from_claim_id === c.claim_id);
    restores.forEach((e) => items.push({ kind: 'restored', at: e.created_at, claim: byId.get(e.to_claim_id) || c,
      text: `${value(e.to_claim_id)} is the winner again` }));
  }
  return items.sort((a, b) => String(a.at).localeCompare(String(b.at)) || RANK[a.kind] - RANK[b.kind]);
}

export function createTruthView(panel, ctx) {
  let slot = null;
  let winners = new Map();
  const reason = h('input', { type: 'text', id: 'retract-reason', value: 'manual_retraction' });
  const heading = h('h2', {}, 'Truth');
  const winnersBox = h('div', { id: 'truth-winners' });
  const othersBox = h('div', { id: 'truth-others' });
  const historyBox = h('section', { id: 'slot-history', 'aria-live': 'polite' });
  fill(panel, heading, h('div', { class: 'toolbar' }, field('Retraction reason', reason),
    h('button', { type: 'button', onclick: () => load() }, 'Refresh')),
  h('div', { class: 'columns' }, h('div', {}, winnersBox, othersBox), historyBox));

  async function load() {
    const subject = ctx.subject();
    heading.textContent = subject ? `Truth of ${subject}` : 'Truth';
    if (!subject) { fill(winnersBox, h('p', { class: 'muted' }, 'Open a subject to see its truth.')); return; }
    const base = `/api/v1/claims/subject/${enc(subject)}`;
    const [truth, slots] = await Promise.all([ctx.guard(get(`${base}/truth`)), ctx.guard(get(`${base}/slots`))]);
    if (!truth || !slots) return;
    winners = new Map(truth.slots.map((s) => [s.slot, s.active_claim_id]));
    renderWinners(truth.slots);
    renderOthers(slots.slots);
    if (slot) await showHistory(slot);
  }

  function renderWinners(rows) {
    fill(winnersBox, h('h3', {}, 'Current winners'), table({
      caption: 'Slots with an active winner, most recently changed first',
      columns: [
        { label: 'Slot', header: true, cell: (s) => s.slot },
        { label: 'Value', cell: (s) => h('strong', { class: 'winner-value' }, s.object_value) },
        { label: 'Type', cell: (s) => s.claim_type },
        { label: 'Confidence', cell: (s) => Number(s.confidence).toFixed(2) },
        { label: 'Claim', cell: (s) => h('code', {}, s.active_claim_id) },
        { label: 'Updated', cell: (s) => when(s.updated_at) },
        { label: 'Actions', cell: (s) => h('span', { class: 'actions' },
          h('button', { type: 'button', onclick: () => showHistory(s.slot) }, 'History'),
          retractButton(s.active_claim_id, s.slot)) },
      ],
      rows,
      empty: 'No slot has an active winner.',
      rowAttrs: (s) => ({ dataset: { slot: s.slot, claimId: s.active_claim_id } }),
    }));
  }

  function renderOthers(groups) {
    const others = (groups.other || []).concat(groups.superseded || []);
    fill(othersBox, h('h3', {}, 'Retracted slots and superseded claims'), table({
      columns: [
        { label: 'Slot', header: true, cell: (s) => s.slot },
        { label: 'State', cell: (s) => badge(s.status) },
        { label: 'Value', cell: (s) => s.object_value || '—' },
        { label: 'Claim', cell: (s) => h('code', {}, s.claim_id || s.active_claim_id || '—') },
        { label: 'Superseded by', cell: (s) => (s.superseded_by ? h('code', {}, s.superseded_by) : '—') },
        { label: '', cell: (s) => h('button', { type: 'button', onclick: () => showHistory(s.slot) }, 'History') },
      ],
      rows: others,
      empty: 'None.',
    }));
  }

  function retractButton(claimId, slotName) {
    return confirmButton('Retract', 'Confirm retract', () => retract(claimId, slotName),
      { 'aria-label': `Retract claim ${claimId}`, dataset: { retract: claimId } });
  }

  async function retract(claimId, slotName) {
    const done = await ctx.guard(call('POST', `/api/v1/claims/${enc(claimId)}/retract`, {
      body: { reason: reason.value.trim() || 'manual_retraction' }, operation: `retract:${claimId}`,
    }));
    if (!done) return;
    const body = done.data || {};
    ctx.notify(body.restored_previous ? `Retracted ${claimId}; ${body.previous_claim_id} wins ${slotName} again`
      : `Retracted ${claimId}`);
    slot = slotName;
    await load();
  }

  async function showHistory(slotName) {
    slot = slotName;
    const subject = ctx.subject();
    const history = await ctx.guard(get(`/api/v1/claims/subject/${enc(subject)}/history`, { slot: slotName }));
    if (!history) return;
    const claims = history.by_slot[slotName] || [];
    const retracted = claims.filter((c) => c.status === 'retracted');
    const details = new Map(await Promise.all(retracted.map(async (c) => [c.claim_id,
      await ctx.guard(get(`/api/v1/claims/${enc(c.claim_id)}`))])));
    const items = slotTimeline(claims, history.edges, details);
    fill(historyBox, h('h3', { id: 'slot-history-title', tabindex: -1 }, `History of slot ${slotName}`),
      h('figure', { class: 'chart-box slot-figure' }, slotChart(items, slotName, when),
        h('figcaption', {}, 'Bars: while that value was the winner. ○ asserted · ▶ won by supersession · ✕ retracted · ◆ winner again. Steps #n follow the list below.')),
      h('ol', { class: 'timeline', 'aria-labelledby': 'slot-history-title' }, items.map((item) => timelineItem(item, slotName))));
  }

  function timelineItem(item, slotName) {
    const c = item.claim;
    const isWinner = winners.get(slotName) === c.claim_id;
    const canRetract = item.kind === 'asserted' && c.status === 'active';
    return h('li', { class: `event event-${item.kind}`, dataset: { kind: item.kind, claimId: c.claim_id } },
      h('span', { class: 'event-time' }, when(item.at)), ' ', badge(item.kind), ' ',
      h('span', { class: 'event-text' }, item.text), ' ', h('code', {}, c.claim_id),
      isWinner && item.kind === 'asserted' ? [' ', badge('winner', 'active')] : null,
      canRetract ? [' ', retractButton(c.claim_id, slotName)] : null);
  }

  return { load, onSubject: () => { slot = null; fill(historyBox); } };
}
