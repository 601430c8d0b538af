// Search playground: one query against the subject's memories, with what the recall engine did
// (engine, mode, the queries it ran) and each result's scores.

import { get } from './api.js';
import { field, fill, h, table, when } from './dom.js';

function score(value) {
  return value === null || value === undefined ? '—' : Number(value).toFixed(2);
}

export function createSearchView(panel, ctx) {
  const query = h('input', { type: 'search', id: 'search-q', required: true, placeholder: 'what does the user like?' });
  const limit = h('input', { type: 'number', id: 'search-limit', min: 1, max: 200, value: 10 });
  const minScore = h('input', { type: 'number', id: 'search-min-score', min: 0, max: 100, step: 1, value: 30 });
  const about = h('dl', { id: 'search-about', class: 'facts' });
  const results = h('div', { id: 'search-results' });
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Search memories' },
    field('Query', query), field('Limit', limit), field('Min score', minScore, '0–100'),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => { event.preventDefault(); search(); });
  fill(panel, h('h2', {}, 'Search playground'), form, about, results);

  async function search() {
    const subject = ctx.subject();
    if (!subject) { ctx.notify('Open a subject first.', 'warn'); return; }
    fill(results, h('p', { class: 'muted' }, 'Searching…'));
    const body = await ctx.guard(get('/api/v1/memories/search', {
      subject_id: subject, q: query.value.trim(), limit: limit.value, min_score: minScore.value,
    }));
    if (!body) { fill(results); return; }
    fill(about, fact('Engine', body.engine), fact('Mode', body.mode),
      fact('Used queries', body.used_queries.length ? h('ul', {}, body.used_queries.map((q) => h('li', {}, q))) : '—'),
      fact('Predicates', body.predicates && body.predicates.length ? body.predicates.join(', ') : '—'),
      fact('Results', String(body.count)));
    fill(results, table({
      caption: `Results for “${body.query}”, best first`,
      columns: [
        { label: '#', cell: (r) => String(r.rank) },
        { label: 'Score', cell: (r) => h('span', { class: 'score' }, score(r.score)) },
        { label: 'Effective', cell: (r) => score(r.effective_score) },
        { label: 'Memory', header: true, cell: (r) => [h('span', { class: 'text' }, r.text), h('br'), h('code', {}, r.id)] },
        { label: 'Kind', cell: (r) => r.kind },
        { label: 'Importance', cell: (r) => String(r.importance) },
        { label: 'Created', cell: (r) => when(r.created_at) },
      ],
      rows: body.data.map((r, i) => ({ ...r, rank: i + 1 })),
      empty: 'No memory scored above the minimum.',
      rowAttrs: (r) => ({ dataset: { memoryId: r.id } }),
    }));
  }

  function fact(label, value) {
    return [h('dt', {}, label), h('dd', { dataset: { fact: label.toLowerCase().replace(/ /g, '-') } }, value ?? '—')];
  }

  return { load: () => {}, onSubject: () => { fill(results); fill(about); } };
}
