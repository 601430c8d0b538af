// The API client of the console: the key and project of this tab, JSON calls, idempotent writes.

const KEY = 'core.console.key';
const PROJECT = 'core.console.project';
const SUBJECT = 'core.console.subject';
const RECENT = 'core.console.recentSubjects';

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ''; },
  set key(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); },
  get project() { return sessionStorage.getItem(PROJECT) || ''; },
  set project(value) { sessionStorage.setItem(PROJECT, value || ''); },
  get subject() { return sessionStorage.getItem(SUBJECT) || ''; },
  set subject(value) {
    sessionStorage.setItem(SUBJECT, value || '');
    if (!value) return;
    const recent = [value, ...this.recentSubjects.filter((s) => s !== value)].slice(0, 12);
    sessionStorage.setItem(RECENT, JSON.stringify(recent));
  },
  get recentSubjects() {
    try { return JSON.parse(sessionStorage.getItem(RECENT) || '[]'); } catch { return []; }
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const code = body && typeof body === 'object' ? body.error : null;
    const message = body && typeof body === 'object' ? body.message : null;
    super(`${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`);
    this.status = status;
    this.body = body;
  }
}

// crypto.randomUUID needs a secure context; getRandomValues does not.
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (session.key) headers['x-api-key'] = session.key;
  if (session.project) headers['x-project-id'] = session.project;
  return headers;
}

export function apiUrl(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  return url.pathname + url.search;
}

// One key per operation until it gets an answer, so a retry after a network error is replayed
// by the server instead of being applied twice.
const pendingKeys = new Map();

function idempotencyKey(operation) {
  if (!pendingKeys.has(operation)) pendingKeys.set(operation, newIdempotencyKey());
  return pendingKeys.get(operation);
}

async function parse(response) {
  const text = await response.text();
  try { return text ? JSON.parse(text) : null; } catch { return text; }
}

export async function call(method, path, { params, body, asOf, operation } = {}) {
  const headers = authHeaders({ accept: 'application/json' });
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (asOf) headers['x-core-as-of-schema'] = asOf;
  if (operation) headers['idempotency-key'] = idempotencyKey(operation);
  const response = await fetch(apiUrl(path, params), {
    method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (operation) pendingKeys.delete(operation);
  const data = await parse(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}

export async function get(path, params = {}, options = {}) {
  return (await call('GET', path, { params, ...options })).data;
}

export async function publicText(path) {
  const response = await fetch(path, { cache: 'no-store' });
  return { ok: response.ok, status: response.status, text: await response.text() };
}

export const enc = encodeURIComponent;
