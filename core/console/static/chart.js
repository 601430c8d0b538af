// Small inline SVG charts (no library, no inline style: the page's CSP allows none). Every data
// point is an element carrying its value, so a test or a screen reader can read what is drawn.

const NS = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#0b5cad', '#b42318', '#1a7f37', '#8250df', '#9a6700', '#0a7480'];

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name === 'dataset') Object.entries(value).forEach(([k, v]) => { el.dataset[k] = v; });
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * step).find((m) => m >= value);
}

function format(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : '—';
}

// series: [{ name, points: [{ t: ms, v: number }] }]; the x axis spans the sampled window.
export function lineChart({ id, title, unit, series, digits = 1, width = 420, height = 150 }) {
  const pad = { left: 46, right: 10, top: 10, bottom: 22 };
  const all = series.flatMap((s) => s.points);
  const t0 = all.length ? Math.min(...all.map((p) => p.t)) : 0;
  const t1 = all.length ? Math.max(...all.map((p) => p.t)) : 1;
  const top = niceMax(Math.max(0, ...all.map((p) => p.v).filter(Number.isFinite)));
  const x = (t) => pad.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const latest = series.map((s) => `${s.name} ${format(s.points.at(-1)?.v, digits)}`).join(', ');
  const label = `${title}: ${all.length ? `latest ${latest} ${unit}` : 'no sample yet'}`;
  const grid = [0, 0.5, 1].map((f) => [
    svg('line', { x1: pad.left, x2: width - pad.right, y1: y(top * f), y2: y(top * f), class: 'grid' }),
    svg('text', { x: pad.left - 6, y: y(top * f) + 4, 'text-anchor': 'end', class: 'tick' }, format(top * f, top * f >= 10 ? 0 : digits)),
  ]);
  const span = all.length ? `${Math.round((t1 - t0) / 1000)} s` : '';
  const lines = series.map((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const points = s.points.filter((p) => Number.isFinite(p.v));
    return svg('g', { class: 'series', dataset: { series: s.name } },
      points.length > 1 ? svg('polyline', { points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }) : null,
      points.map((p) => svg('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5, fill: color, class: 'point', dataset: { value: String(p.v), t: String(p.t) } },
        svg('title', {}, `${s.name}: ${format(p.v, digits)} ${unit} at ${new Date(p.t).toISOString()}`))));
  });
  return svg('svg', { id, class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label },
    svg('title', {}, label), grid,
    svg('text', { x: width - pad.right, y: height - 6, 'text-anchor': 'end', class: 'tick' }, span ? `last ${span}` : ''),
    lines);
}

export function legend(series) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  series.forEach((s, i) => {
    const li = document.createElement('li');
    li.append(svg('svg', { width: 12, height: 12, 'aria-hidden': 'true' },
      svg('rect', { width: 12, height: 12, fill: PALETTE[i % PALETTE.length] })), ` ${s.name}`);
    ul.append(li);
  });
  return ul;
}
