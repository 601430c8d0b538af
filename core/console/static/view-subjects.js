// Subjects: the project's subjects, most recently active first, with their memory and claim
// counts (GET /api/v1/subjects, a projection), searchable by id prefix, paged by cursor.
// Opening one makes it the console's subject.

import { get } from './api.js';
import { fill, h, table, when } from './dom.js';

const PAGE = 50;

export function createSubjectsView(panel, ctx) {
  let rows = [];
  let next = null;
  let asked = 0;
  const prefix = h('input', { type: 'search', id: 'subject-prefix', spellcheck: 'false',
    placeholder: 'e.g. user_', autocomplete: 'off' });
  const listBox = h('div', { id: 'subject-list' });
  const more = h('button', { type: 'button', id: 'subjects-more', hidden: true, onclick: () => load(true) }, 'Load more subjects');
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Subjects by prefix' },
    h('label', { for: 'subject-prefix' }, 'Subject id starts with'), prefix,
    h('button', { type: 'submit' }, 'Find'));
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  let typing = null;
  prefix.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(() => load(), 250); });
  fill(panel, h('h2', {}, 'Subjects'), form, listBox, more);

  async function load(append = false) {
    const ticket = ++asked;
    const body = await ctx.guard(get('/api/v1/subjects', {
      limit: PAGE, prefix: prefix.value.trim(), cursor: append ? next : undefined }));
    if (!body || ticket !== asked) return;
    rows = append ? rows.concat(body.data) : body.data;
    next = body.next_cursor;
    more.hidden = !next;
    render(body.prefix);
  }

  function render(shownPrefix) {
    fill(listBox, table({
      caption: `${rows.length}${next ? '+' : ''} subjects${shownPrefix ? ` starting with “${shownPrefix}”` : ''}, most recently active first`,
      columns: [
        { label: 'Subject', header: true, cell: (s) => h('button', { type: 'button', class: 'linklike subject-open',
          'aria-label': `Show subject ${s.subject_id}`, onclick: () => ctx.open(s.subject_id) }, s.subject_id) },
        { label: 'Memories', cell: (s) => h('span', { class: 'num', dataset: { count: 'memories' } }, String(s.memory_count)) },
        { label: 'Claims', cell: (s) => h('span', { class: 'num', dataset: { count: 'claims' } }, String(s.claim_count)) },
        { label: 'Last activity', cell: (s) => when(s.last_activity_at) },
      ],
      rows,
      empty: shownPrefix ? 'No subject starts with that.' : 'No subject in this project yet.',
      rowAttrs: (s) => ({ dataset: { subjectId: s.subject_id } }),
    }));
  }

  return { load: () => load(), onSubject: () => {} };
}
