// The console's entry point: connection (key + project), the open subject, the view tabs.

import { ApiError, session } from './api.js';
import { fill, h } from './dom.js';
import { createHealthView } from './view-health.js';
import { createHistoryView } from './view-history.js';
import { createLiveView } from './view-live.js';
import { createMemoriesView } from './view-memories.js';
import { createSearchView } from './view-search.js';
import { createSubjectsView } from './view-subjects.js';
import { createTruthView } from './view-truth.js';

const $ = (id) => document.getElementById(id);
const FACTORIES = {
  subjects: createSubjectsView, memories: createMemoriesView, truth: createTruthView, live: createLiveView,
  search: createSearchView, history: createHistoryView, health: createHealthView,
};

function notify(text, tone = 'info') {
  const status = $('status');
  status.textContent = text;
  status.dataset.tone = tone;
}

// Runs an API call; a failure is reported on the page and yields null.
async function guard(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) notify(`Not authorised (${error.message}): paste a valid API key.`, 'error');
    else if (error instanceof ApiError && error.status === 403) notify(`Forbidden (${error.message}): this key cannot do that here.`, 'error');
    else notify(`Request failed: ${error.message || error}`, 'error');
    return null;
  }
}

const ctx = { subject: () => session.subject, notify, guard, open: (subject) => openSubject(subject) };
const views = {};
let current = null;

function showKeyState() {
  $('key-state').textContent = session.key ? 'key kept for this tab' : 'no key yet';
  $('project-id').value = session.project;
}

function showSubject() {
  $('subject-id').value = session.subject;
  $('subject-state').textContent = session.subject ? `open: ${session.subject}` : '';
  fill($('recent-subjects'), session.recentSubjects.map((s) => h('option', { value: s })));
}

function tabs() {
  return [...document.querySelectorAll('[role="tab"]')];
}

function select(name, { focus = false } = {}) {
  if (!FACTORIES[name]) name = 'memories';
  if (current && current !== name && views[current].hide) views[current].hide();
  for (const tab of tabs()) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) tab.focus();
  }
  current = name;
  if (window.location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  views[name].load();
}

function onTabKey(event) {
  const list = tabs();
  const at = list.indexOf(event.target);
  const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: list.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = list[(moves[event.key] + list.length) % list.length];
  select(next.id.replace('tab-', ''), { focus: true });
}

// Another subject or project: views drop what they show; the open one loads again (the others
// load when selected).
function refresh() {
  Object.values(views).forEach((v) => v.onSubject && v.onSubject());
  views[current].load();
}

// From the subject list: that subject becomes the open one, shown in the Memories view.
function openSubject(subject) {
  session.subject = subject;
  showSubject();
  Object.values(views).forEach((v) => v.onSubject && v.onSubject());
  select('memories', { focus: true });
}

function wire() {
  $('connection').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('api-key').value.trim();
    if (key) session.key = key;
    $('api-key').value = '';
    session.project = $('project-id').value.trim();
    showKeyState();
    notify(`Using project ${session.project || '(server default)'}.`);
    refresh();
  });
  $('forget-key').addEventListener('click', () => { session.key = ''; showKeyState(); notify('Key forgotten.'); });
  $('subject-form').addEventListener('submit', (event) => {
    event.preventDefault();
    session.subject = $('subject-id').value.trim();
    showSubject();
    refresh();
  });
  for (const tab of tabs()) {
    tab.addEventListener('click', () => select(tab.id.replace('tab-', '')));
    tab.addEventListener('keydown', onTabKey);
  }
  window.addEventListener('hashchange', () => select(window.location.hash.slice(1)));
}

function start() {
  for (const [name, create] of Object.entries(FACTORIES)) views[name] = create($(`view-${name}`), ctx);
  wire();
  showKeyState();
  showSubject();
  if (!session.key) notify('Paste an API key to begin; it stays in this tab only.');
  select(window.location.hash.slice(1) || 'memories');
}

start();
