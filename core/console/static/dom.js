// Tiny DOM helpers: every piece of data reaches the page as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  el.append(...nodes(children));
  return el;
}

export function nodes(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

export function fill(el, ...children) {
  el.replaceChildren(...nodes(children));
  return el;
}

export function when(iso) {
  if (!iso) return '—';
  return String(iso).replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1 UTC').replace(/Z$/, ' UTC');
}

export function short(value, max = 160) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text && text.length > max ? `${text.slice(0, max - 1)}…` : text ?? '';
}

export function badge(text, tone = text) {
  return h('span', { class: `badge badge-${String(tone).replace(/[^a-z0-9-]/gi, '-')}` }, text);
}

export function table({ caption, columns, rows, empty = 'Nothing to show.', rowAttrs }) {
  const head = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label))));
  const body = h('tbody', {}, rows.length === 0
    ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty))
    : rows.map((row) => h('tr', rowAttrs ? rowAttrs(row) : {},
      columns.map((c) => h(c.header ? 'th' : 'td', c.header ? { scope: 'row' } : {}, c.cell(row))))));
  return h('div', { class: 'table-wrap' },
    h('table', {}, caption ? h('caption', {}, caption) : null, head, body));
}

// A button that asks for a second click before doing something that cannot be undone.
export function confirmButton(label, confirmLabel, action, attrs = {}) {
  let armed = null;
  const button = h('button', { type: 'button', ...attrs }, label);
  const name = attrs['aria-label'];
  const disarm = () => {
    clearTimeout(armed);
    armed = null;
    button.textContent = label;
    if (name) button.setAttribute('aria-label', name);
    button.classList.remove('armed');
  };
  button.addEventListener('click', async () => {
    if (!armed) {
      button.textContent = confirmLabel;
      if (name) button.setAttribute('aria-label', `${confirmLabel}: ${name}`);
      button.classList.add('armed');
      armed = setTimeout(disarm, 6000);
      return;
    }
    disarm();
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  button.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== button) disarm(); }, 150));
  return button;
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('span', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('span', { class: 'muted' }, hint) : null);
}
