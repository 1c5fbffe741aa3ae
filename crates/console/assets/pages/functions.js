// The function list: every function, loaded page by page from
// ListFunctions, filtered and sorted in the browser, drawn through a
// virtualised list so hundreds of rows cost what a screenful does.

import { h, mount, errorBox, setQuery } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { ago, compact, count, dateTime } from '/_lamina/console/format.js';
import { virtualList } from '/_lamina/console/vlist.js';

const ROW_HEIGHT = 40;

const COLUMNS = [
  { key: 'name', label: 'Name', value: (f) => f.FunctionName.toLowerCase() },
  { key: 'runtime', label: 'Runtime', value: (f) => f.Runtime || '' },
  { key: 'memory', label: 'Memory', num: true, value: (f) => f.MemorySize || 0 },
  { key: 'timeout', label: 'Timeout', num: true, value: (f) => f.Timeout || 0 },
  { key: 'modified', label: 'Last modified', value: (f) => f.LastModified || '' },
  { key: 'warm', label: 'Warm', num: true, title: 'Idle sandboxes ready for the next invocation', value: (f, x) => x.warm[f.FunctionName] || 0 },
  { key: 'requests', label: 'Requests (30 d)', num: true, value: (f, x) => x.requests[f.FunctionName] || 0 },
];

// Kept between visits so coming back to the list is instant; refreshed in
// the background each time.
const cache = { functions: null, warm: {}, requests: {}, loadedAt: 0 };

function matches(f, terms) {
  if (!terms.length) return true;
  const hay = `${f.FunctionName} ${f.Runtime || ''} ${f.Description || ''}`.toLowerCase();
  return terms.every((t) => hay.includes(t));
}

export function render(main, { query, signal }) {
  document.title = 'Functions · Lamina';
  let sortKey = COLUMNS.some((c) => c.key === query.get('sort')) ? query.get('sort') : 'name';
  let sortDesc = query.get('desc') === '1';
  let runtime = query.get('runtime') || '';
  let visible = [];

  const search = h('input', {
    type: 'search',
    class: 'search',
    placeholder: 'Filter by name, runtime or description  ( / )',
    'aria-label': 'Filter functions',
    'data-search': '',
    value: query.get('q') || '',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const runtimeSelect = h('select', { 'aria-label': 'Runtime' }, h('option', { value: '' }, 'All runtimes'));
  const counter = h('span', { class: 'muted', 'data-testid': 'function-count' });
  const refresh = h('button', { type: 'button', class: 'ghost', title: 'Reload the list' }, 'Refresh');
  const header = h('div', { class: 'vrow vhead', role: 'row' });
  const list = virtualList({
    rowHeight: ROW_HEIGHT,
    label: 'Functions',
    render: (f) =>
      h(
        'a',
        { class: 'vrow', role: 'row', href: `#/functions/${encodeURIComponent(f.FunctionName)}`, title: f.Description || undefined, 'data-function': f.FunctionName },
        h('span', { class: 'name', role: 'cell' }, f.FunctionName),
        h('span', { role: 'cell' }, h('span', { class: 'badge' }, f.Runtime || f.PackageType || '—')),
        h('span', { class: 'num', role: 'cell' }, `${count(f.MemorySize)} MB`),
        h('span', { class: 'num', role: 'cell' }, `${count(f.Timeout)} s`),
        h('span', { role: 'cell', title: dateTime(f.LastModified) }, ago(f.LastModified)),
        h('span', { class: 'num', role: 'cell' }, cache.warm[f.FunctionName] ? h('span', { class: 'warm' }, String(cache.warm[f.FunctionName])) : h('span', { class: 'muted' }, '0')),
        h('span', { class: 'num', role: 'cell' }, compact(cache.requests[f.FunctionName] || 0)),
      ),
  });
  const body = h('div', { class: 'list-body' });
  const table = h('div', { class: 'vtable', role: 'table', 'aria-label': 'Functions' }, header, body);

  function drawHeader() {
    mount(
      header,
      COLUMNS.map((c) =>
        h(
          'button',
          {
            type: 'button',
            role: 'columnheader',
            class: ['sort', c.num && 'num', c.key === sortKey && 'sorted'],
            title: c.title,
            'aria-sort': c.key === sortKey ? (sortDesc ? 'descending' : 'ascending') : 'none',
            onclick: () => {
              if (sortKey === c.key) sortDesc = !sortDesc;
              else {
                sortKey = c.key;
                sortDesc = !!c.num;
              }
              drawHeader();
              apply(false);
            },
          },
          c.label,
          c.key === sortKey ? (sortDesc ? ' ▾' : ' ▴') : '',
        ),
      ),
    );
  }

  function apply(resetScroll) {
    const all = cache.functions || [];
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const col = COLUMNS.find((c) => c.key === sortKey);
    visible = all.filter((f) => (!runtime || f.Runtime === runtime) && matches(f, terms));
    const key = (f) => col.value(f, cache);
    visible.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      const cmp = ka < kb ? -1 : ka > kb ? 1 : a.FunctionName.localeCompare(b.FunctionName);
      return sortDesc ? -cmp : cmp;
    });
    counter.textContent =
      visible.length === all.length ? `${count(all.length)} function${all.length === 1 ? '' : 's'}` : `${count(visible.length)} of ${count(all.length)} functions`;
    setQuery({ q: search.value, runtime, sort: sortKey === 'name' ? '' : sortKey, desc: sortDesc ? '1' : '' });
    if (!all.length && cache.functions) {
      mount(body, emptyState());
    } else if (!visible.length && cache.functions) {
      mount(body, h('div', { class: 'empty-state' }, 'No function matches this filter.'));
    } else if (body.firstChild !== list.el) {
      mount(body, list.el);
    }
    list.setItems(visible, { keepScroll: !resetScroll });
  }

  function fillRuntimes() {
    const runtimes = [...new Set((cache.functions || []).map((f) => f.Runtime).filter(Boolean))].sort();
    if (runtime && !runtimes.includes(runtime)) runtimes.push(runtime);
    mount(runtimeSelect, h('option', { value: '' }, 'All runtimes'), runtimes.map((r) => h('option', { value: r, selected: r === runtime }, r)));
  }

  async function load() {
    refresh.disabled = true;
    const first = !cache.functions;
    if (first) mount(body, h('div', { class: 'loading' }, h('span', { class: 'spin' }), 'Loading functions…'));
    // Side data: failures here only leave columns at zero.
    api.status({ signal }).then((st) => {
      cache.warm = st.idle_by_function || {};
      list.setItems(visible);
    }, () => {});
    api.usage('function', null, { signal }).then((u) => {
      cache.requests = Object.fromEntries((u.items || []).map((i) => [i.key, i.requests]));
      list.setItems(visible);
    }, () => {});
    try {
      let partial = [];
      const fns = await api.listFunctions({
        signal,
        onPage: (_, all) => {
          partial = all;
          if (first) {
            cache.functions = partial;
            counter.textContent = `Loading… ${count(all.length)}`;
            if (all.length <= 50 || all.length % 200 === 0) apply(false);
          }
        },
      });
      cache.functions = fns;
      cache.loadedAt = Date.now();
      fillRuntimes();
      apply(false);
    } catch (err) {
      if (err.name === 'AbortError') return;
      mount(body, errorBox(err, 'Could not list functions.'));
    } finally {
      refresh.disabled = false;
    }
  }

  search.addEventListener('input', () => apply(true));
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && visible.length) location.hash = `#/functions/${encodeURIComponent(visible[0].FunctionName)}`;
    if (ev.key === 'Escape') {
      search.value = '';
      apply(true);
    }
  });
  runtimeSelect.addEventListener('change', () => {
    runtime = runtimeSelect.value;
    apply(true);
  });
  refresh.addEventListener('click', load);

  mount(
    main,
    h(
      'div',
      { class: 'page page-list' },
      h('div', { class: 'page-head' }, h('h1', null, 'Functions'), counter),
      h('div', { class: 'toolbar' }, search, runtimeSelect, refresh),
      table,
    ),
  );
  drawHeader();
  fillRuntimes();
  if (cache.functions) apply(false);
  load();
  if (!query.get('q') && !matchMedia('(pointer: coarse)').matches) search.focus();
}

function emptyState() {
  return h(
    'div',
    { class: 'empty-state' },
    h('h2', null, 'No functions yet'),
    h('p', null, 'Create one with the CLI, any AWS SDK, or SAM:'),
    h('pre', { class: 'code' }, 'lamina create hello --runtime python3.12 --handler app.handler --code ./hello'),
  );
}
