// A slot's history drawn as a timeline: one lane per claim, a bar while that claim was the
// slot's winner, and marks where it was asserted, retracted, or became the winner again.
// Built from the ordered items of view-truth.js's slotTimeline().

import { PALETTE, svg } from './chart.js';

// Who won from which step to which: [{ claimId, from, to }] over item indexes (to = open end).
export function winnerSpans(items) {
  const spans = [];
  let current = null;
  const win = (claimId, at) => {
    if (current && current.claimId === claimId) return;
    if (current) current.to = at;
    current = claimId ? { claimId, from: at, to: null } : null;
    if (current) spans.push(current);
  };
  items.forEach((item, i) => {
    const id = item.claim.claim_id;
    if (item.kind === 'asserted' && !current) win(id, i);
    else if (item.kind === 'superseded') win(id, i);
    else if (item.kind === 'retracted' && current && current.claimId === id) win(null, i);
    else if (item.kind === 'restored') win(id, i);
  });
  return spans;
}

const MARKS = {
  asserted: (x, y, color) => svg('circle', { cx: x, cy: y, r: 5, fill: '#ffffff', stroke: color, 'stroke-width': 2 }),
  superseded: (x, y, color) => svg('path', { d: `M${x - 5},${y - 5} L${x + 5},${y} L${x - 5},${y + 5} Z`, fill: color }),
  retracted: (x, y) => svg('path', { d: `M${x - 5},${y - 5} L${x + 5},${y + 5} M${x + 5},${y - 5} L${x - 5},${y + 5}`, stroke: '#b42318', 'stroke-width': 2.5 }),
  restored: (x, y, color) => svg('path', { d: `M${x},${y - 6} L${x + 6},${y} L${x},${y + 6} L${x - 6},${y} Z`, fill: color, stroke: '#1a7f37', 'stroke-width': 1.5 }),
};

export function slotChart(items, slotName, when) {
  const claims = [...new Map(items.map((i) => [i.claim.claim_id, i.claim])).values()];
  const lane = new Map(claims.map((c, i) => [c.claim_id, i]));
  const pad = { left: 130, right: 20, top: 12, bottom: 18 };
  const step = 70;
  const laneHeight = 30;
  const width = pad.left + pad.right + Math.max(items.length - 1, 1) * step + 60;
  const height = pad.top + pad.bottom + claims.length * laneHeight;
  const x = (i) => pad.left + 10 + i * step;
  const y = (claimId) => pad.top + lane.get(claimId) * laneHeight + laneHeight / 2;
  const end = x(Math.max(items.length - 1, 0)) + 50; // an open span runs on to "now"
  const color = (claimId) => PALETTE[lane.get(claimId) % PALETTE.length];
  const spans = winnerSpans(items);
  const winnerText = (s) => `${claimValue(claims, s.claimId)} won from ${when(items[s.from].at)}${s.to === null ? ' until now' : ` to ${when(items[s.to].at)}`}`;
  const label = `History of slot ${slotName}: ${spans.map(winnerText).join('; ') || 'no winner'}`;
  return svg('svg', { id: 'slot-timeline-chart', class: 'chart slot-chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    claims.map((c) => svg('g', { class: 'lane', dataset: { claimId: c.claim_id } },
      svg('line', { x1: pad.left, x2: width - pad.right, y1: y(c.claim_id), y2: y(c.claim_id), class: 'grid' }),
      svg('text', { x: pad.left - 8, y: y(c.claim_id) + 4, 'text-anchor': 'end', class: 'lane-label' }, c.object_value))),
    spans.map((s) => svg('rect', { x: x(s.from), y: y(s.claimId) - 7, width: Math.max((s.to === null ? end : x(s.to)) - x(s.from), 4), height: 14, rx: 3,
      fill: color(s.claimId), 'fill-opacity': 0.35, class: 'won', dataset: { kind: 'won', claimId: s.claimId, open: String(s.to === null) } },
    svg('title', {}, winnerText(s)))),
    items.map((item, i) => svg('g', { class: 'mark', dataset: { kind: item.kind, claimId: item.claim.claim_id, step: String(i) } },
      MARKS[item.kind](x(i), y(item.claim.claim_id), color(item.claim.claim_id)),
      svg('title', {}, `${when(item.at)} — ${item.kind}: ${item.text}`))),
    items.map((item, i) => svg('text', { x: x(i), y: height - 4, 'text-anchor': 'middle', class: 'tick' }, `#${i + 1}`)));
}

function claimValue(claims, claimId) {
  const found = claims.find((c) => c.claim_id === claimId);
  return found ? found.object_value : claimId;
}
