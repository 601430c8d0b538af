// The live stream of the project or of the open subject, rendered as frames arrive; Pause keeps
// the position and Resume continues from it, so nothing in between is lost.

import { badge, field, fill, h, short, when } from './dom.js';
import { EventStream } from './sse.js';

const KEEP = 500;
const QUIET = new Set(['heartbeat']);

function summary(frame) {
  const d = frame.data || {};
  if (frame.event === 'memory.created') return d.text;
  if (frame.event === 'memory.superseded') return `${d.id} superseded by ${d.superseded_by}`;
  if (frame.event === 'memory.updated') return d.status ? `${d.id} is ${d.status}` : `${d.id} updated`;
  if (frame.event === 'memory.deleted') return `${d.id} deleted`;
  if (frame.event === 'claim.asserted') return `${d.predicate} = ${d.object_value} (slot ${d.slot})`;
  if (frame.event === 'claim.retracted') return `${d.claim_id} retracted${d.reason ? ` (${d.reason})` : ''}`;
  if (frame.event === 'slot.changed') return `slot ${d.slot}: ${d.active_claim_id || 'no winner'} (${d.status})`;
  if (frame.event === 'connected') return `stream open for ${d.subject_id || 'the whole project'}`;
  if (frame.event === 'reset') return 'the saved position is gone (retention); continuing live, some events may be missing';
  if (frame.event === 'overflow') return 'this page fell too far behind; reconnecting from the last position';
  return short(d, 200);
}

export function createLiveView(panel, ctx) {
  let stream = null;
  const scope = h('select', { id: 'live-scope' },
    h('option', { value: 'subject' }, 'the open subject'), h('option', { value: 'project' }, 'the whole project'));
  const claims = h('input', { type: 'checkbox', id: 'live-claims', checked: true });
  const state = h('p', { id: 'live-state', class: 'muted', role: 'status' }, 'Not connected.');
  const position = h('p', { id: 'live-position', class: 'muted' });
  const log = h('ol', { id: 'live-log', class: 'log', role: 'log', 'aria-label': 'Events, newest first' });
  const connect = h('button', { type: 'button', id: 'live-connect', onclick: () => start() }, 'Connect');
  const pause = h('button', { type: 'button', id: 'live-pause', onclick: () => stop(), disabled: true }, 'Pause');
  fill(panel, h('h2', {}, 'Live events'), h('div', { class: 'toolbar' },
    field('Stream of', scope), h('label', {}, claims, ' claim and slot changes too'),
    connect, pause, h('button', { type: 'button', onclick: () => fill(log) }, 'Clear')), state, position, log);
  scope.addEventListener('change', restart);
  claims.addEventListener('change', restart);

  function params() {
    const subject = scope.value === 'subject' ? ctx.subject() : '';
    return { subject_id: subject, include: claims.checked ? 'claims' : '' };
  }

  function start() {
    if (scope.value === 'subject' && !ctx.subject()) { state.textContent = 'Open a subject, or stream the whole project.'; return; }
    if (!stream) stream = newStream();
    stream.start();
    connect.disabled = true;
    pause.disabled = false;
  }

  function newStream() {
    // Callbacks of a replaced stream (still winding down) must not touch the page.
    const created = new EventStream({
      path: '/api/v1/events/memories',
      params: params(),
      onFrame: (frame) => { if (created === stream) onFrame(frame); },
      onState: (name, detail) => { if (created === stream) onState(name, detail); },
    });
    return created;
  }

  function stop() {
    if (stream) stream.stop();
    connect.textContent = stream && stream.lastId ? 'Resume' : 'Connect';
    connect.disabled = false;
    pause.disabled = true;
  }

  function restart() {
    const running = stream && stream.running;
    if (stream) stream.stop();
    stream = null;
    connect.textContent = 'Connect';
    if (running) start(); else stop();
  }

  function onState(name, detail) {
    state.textContent = `${name}${detail ? ` — ${detail}` : ''}`;
    state.dataset.state = name;
    if (name === 'failed' || name === 'stopped') { connect.disabled = false; pause.disabled = true; }
  }

  function onFrame(frame) {
    if (stream && stream.lastId) position.textContent = `Position: ${stream.lastId}`;
    if (QUIET.has(frame.event)) return;
    const d = frame.data || {};
    log.prepend(h('li', { class: 'event', dataset: { eventType: frame.event, id: d.id || '' } },
      h('span', { class: 'event-time' }, when(new Date().toISOString())), ' ', badge(frame.event, frame.event.split('.')[0]),
      ' ', d.subject_id && frame.event !== 'connected' ? h('span', { class: 'muted' }, `${d.subject_id} · `) : null,
      h('span', { class: 'event-text' }, summary(frame) ?? ''),
      d.id && frame.event.startsWith('memory.') ? [' ', h('code', {}, d.id)] : null));
    while (log.children.length > KEEP) log.lastElementChild.remove();
  }

  return {
    load: () => { if (!stream) start(); },
    onSubject: () => {
      if (scope.value !== 'subject') return;
      fill(log);
      position.textContent = '';
      restart();
    },
  };
}
