// Memories of one subject: active / superseded / deleted filters, supersession links both ways,
// restore and delete through the command API (each with an Idempotency-Key).

import { call, enc, get } from './api.js';
import { badge, confirmButton, fill, h, table, when } from './dom.js';

const PAGE = 200;
const FILTERS = [['active', 'Active', true], ['superseded', 'Superseded', true],
  ['deleted', 'Deleted', false]];

export function stateOf(memory) {
  return memory.is_deleted ? 'deleted' : memory.status;
}

export function createMemoriesView(panel, ctx) {
  const shown = Object.fromEntries(FILTERS.map(([key, , on]) => [key, on]));
  let memories = [];
  let more = false;
  const summary = h('p', { class: 'muted', id: 'memory-summary' });
  const list = h('div');
  const moreButton = h('button', { type: 'button', hidden: true, onclick: () => load(true) },
    'Load more');
  const filters = h('fieldset', { class: 'filters' }, h('legend', {}, 'Show'),
    FILTERS.map(([key, label]) => h('label', {}, h('input', {
      type: 'checkbox', name: key, checked: shown[key],
      onchange: (e) => { shown[key] = e.target.checked; render(); },
    }), ` ${label}`)));
  const heading = h('h2', {}, 'Memories');
  fill(panel, heading, h('div', { class: 'toolbar' }, filters,
    h('button', { type: 'button', onclick: () => load() }, 'Refresh')), summary, list, moreButton);

  async function load(append = false) {
    const subject = ctx.subject();
    heading.textContent = subject ? `Memories of ${subject}` : 'Memories';
    if (!subject) { fill(list, h('p', { class: 'muted' }, 'Open a subject to see its memories.')); return; }
    const offset = append ? memories.length : 0;
    const body = await ctx.guard(get('/api/v1/memories', {
      subject_id: subject, include_superseded: 'true', include_deleted: 'true', limit: PAGE, offset,
    }));
    if (!body) return;
    memories = append ? memories.concat(body.data) : body.data;
    more = body.count === PAGE;
    render();
  }

  function render() {
    const counts = { active: 0, superseded: 0, deleted: 0 };
    memories.forEach((m) => { counts[stateOf(m)] = (counts[stateOf(m)] || 0) + 1; });
    summary.textContent = `${counts.active} active · ${counts.superseded} superseded · ${counts.deleted} deleted`;
    const replaced = new Map();
    memories.filter((m) => m.superseded_by).forEach((m) => {
      replaced.set(m.superseded_by, [...(replaced.get(m.superseded_by) || []), m.id]);
    });
    const rows = memories.filter((m) => shown[stateOf(m)]);
    fill(list, table({
      caption: 'Memories, newest first',
      columns: [
        { label: 'Memory', header: true, cell: (m) => [h('span', { class: 'text' }, m.text), h('br'), h('code', {}, m.id)] },
        { label: 'Kind', cell: (m) => m.kind },
        { label: 'State', cell: (m) => badge(stateOf(m)) },
        { label: 'Supersession', cell: (m) => links(m, replaced.get(m.id) || []) },
        { label: 'Created', cell: (m) => when(m.created_at) },
        { label: 'Actions', cell: (m) => actions(m) },
      ],
      rows,
      empty: 'No memory matches the filters.',
      rowAttrs: (m) => ({ id: `memory-${m.id}`, tabindex: -1, dataset: { memoryId: m.id, state: stateOf(m) } }),
    }));
    moreButton.hidden = !more;
  }

  function links(memory, replacedIds) {
    const parts = [];
    if (memory.superseded_by) {
      parts.push(h('span', { class: 'link-superseded-by' }, 'superseded by ', jump(memory.superseded_by)));
    }
    if (replacedIds.length) {
      parts.push(h('span', { class: 'link-replaces' }, 'replaced ', replacedIds.map((id, i) => [i ? ', ' : '', jump(id)])));
    }
    return parts.length ? parts.map((p, i) => [i ? h('br') : null, p]) : '—';
  }

  function jump(id) {
    return h('button', { type: 'button', class: 'linklike', onclick: () => focusMemory(id) }, id);
  }

  function focusMemory(id) {
    const target = memories.find((m) => m.id === id);
    if (target && !shown[stateOf(target)]) {
      shown[stateOf(target)] = true;
      panel.querySelector(`input[name="${stateOf(target)}"]`).checked = true;
      render();
    }
    const row = document.getElementById(`memory-${id}`);
    if (!row) { ctx.notify(`Memory ${id} is not among the loaded memories.`, 'warn'); return; }
    panel.querySelectorAll('tr.highlight').forEach((r) => r.classList.remove('highlight'));
    row.classList.add('highlight');
    row.focus();
  }

  function actions(memory) {
    if (memory.is_deleted) return '—';
    const buttons = [];
    if (memory.status !== 'active') {
      buttons.push(h('button', { type: 'button', onclick: () => command('restore', memory) }, 'Restore'));
    }
    buttons.push(confirmButton('Delete', 'Confirm delete', () => command('delete', memory),
      { 'aria-label': `Delete memory ${memory.id}` }));
    return h('span', { class: 'actions' }, buttons);
  }

  async function command(kind, memory) {
    const path = `/api/v1/memories/${enc(memory.id)}`;
    const done = await ctx.guard(kind === 'delete'
      ? call('DELETE', path, { operation: `delete:${memory.id}` })
      : call('POST', `${path}/restore`, { body: {}, operation: `restore:${memory.id}` }));
    if (!done) return;
    ctx.notify(done.status === 202 ? `${kind} accepted; it will show once projected`
      : `${kind === 'delete' ? 'Deleted' : 'Restored'} ${memory.id}`);
    await load();
  }

  return { load, onSubject: () => { memories = []; } };
}
