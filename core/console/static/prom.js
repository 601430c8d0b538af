// A small reader of the Prometheus text format (what /metrics answers).

function number(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function labels(text) {
  const found = {};
  const pattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const match of text.matchAll(pattern)) {
    found[match[1]] = match[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return found;
}

export function parsePrometheus(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (match) samples.push({ name: match[1], labels: labels(match[2] || ''), value: number(match[3]) });
  }
  return samples;
}

export function select(samples, name, where = () => true) {
  return samples.filter((s) => s.name === name && where(s.labels));
}

// The sum of a metric's samples, or null when the process does not report it.
export function total(samples, name, where) {
  const found = select(samples, name, where);
  return found.length ? found.reduce((sum, s) => sum + s.value, 0) : null;
}
