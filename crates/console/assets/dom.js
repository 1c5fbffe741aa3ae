// Building DOM nodes without HTML strings. Every piece of text goes in
// through textContent or a text node, so data from the server (function
// names, log lines, payloads) can never become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'style') Object.assign(el.style, value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') el[key] = value;
    else if (key === 'href') el.setAttribute('href', safeHref(value));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Only same-page, relative and http(s) links: never `javascript:`. */
export function safeHref(value) {
  const s = String(value);
  if (s.startsWith('#') || s.startsWith('/')) return s;
  try {
    const url = new URL(s, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '#';
  } catch {
    return '#';
  }
}

/** h('a', {href: '#/x', class: 'link'}, 'text', child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** The SVG twin of h(); attributes are set verbatim. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'class') el.setAttribute('class', value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Replaces the children of el. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table from column specs: [{label, class, cell: row => node|string}]. */
export function table(columns, rows, { empty = 'Nothing here yet.', rowClass } = {}) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class, title: c.title }, c.label))));
  const body = h('tbody');
  if (!rows.length) {
    body.appendChild(h('tr', null, h('td', { class: 'empty', colspan: columns.length }, empty)));
  }
  for (const row of rows) {
    body.appendChild(h('tr', { class: rowClass && rowClass(row) }, columns.map((c) => h('td', { class: c.class }, c.cell(row)))));
  }
  return h('table', { class: 'grid' }, head, body);
}

/** A definition list from [label, value] pairs; empty values show a dash. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([label, value]) => [
      h('dt', null, label),
      h('dd', null, value === undefined || value === null || value === '' ? h('span', { class: 'muted' }, '—') : value),
    ]),
  );
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

/** A message box for a failed request, with what the server said. */
export function errorBox(err, what) {
  const type = err && err.type ? `${err.type}: ` : '';
  return h('div', { class: 'alert', role: 'alert' }, h('strong', null, what || 'Request failed'), ' ', `${type}${err && err.message ? err.message : err}`);
}

export function spinner(label = 'Loading…') {
  return h('div', { class: 'loading' }, h('span', { class: 'spin', 'aria-hidden': 'true' }), label);
}

/** Replaces the query part of the hash route without a history entry or a re-render. */
export function setQuery(params) {
  const path = (location.hash.replace(/^#/, '') || '/').split('?')[0];
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  const q = new URLSearchParams(entries).toString();
  history.replaceState(null, '', `#${path}${q ? `?${q}` : ''}`);
}
