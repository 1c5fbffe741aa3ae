// Usage and cost: requests, billed duration, GB-seconds and the estimate at
// the server's configured prices, by function or by day, from /_lamina/usage.

import { h, mount, errorBox, spinner, setQuery } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { count, dayBefore, ms, usd } from '/_lamina/console/format.js';

const COLUMNS = [
  { key: 'key', label: null },
  { key: 'requests', label: 'Requests', num: true, show: (i) => count(i.requests) },
  { key: 'billed_ms', label: 'Billed duration', num: true, show: (i) => ms(i.billed_ms) },
  { key: 'gb_seconds', label: 'GB-seconds', num: true, show: (i) => gbs(i.gb_seconds) },
  { key: 'cost_usd', label: 'Estimated cost', num: true, show: (i) => usd(i.cost_usd) },
];

function gbs(n) {
  n = Number(n) || 0;
  return n >= 100 ? count(n) : n.toFixed(n >= 1 ? 2 : 4);
}

export function render(main, { query, signal }) {
  document.title = 'Usage & cost · Lamina';
  let by = query.get('by') === 'day' ? 'day' : 'function';
  let sortKey = by === 'day' ? 'key' : 'cost_usd';
  let sortDesc = true;
  let data = null;
  const since = h('input', { type: 'date', value: /^\d{4}-\d\d-\d\d$/.test(query.get('since') || '') ? query.get('since') : dayBefore(30), 'aria-label': 'Since', max: dayBefore(0) });
  const byGroup = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Group by' },
    [
      ['function', 'By function'],
      ['day', 'By day'],
    ].map(([key, label]) => h('button', { type: 'button', class: key === by && 'active', 'aria-pressed': String(key === by), dataset: { by: key } }, label)),
  );
  const summary = h('div', { class: 'tiles' });
  const result = h('div', { class: 'card' }, spinner());
  const prices = h('p', { class: 'muted small' });

  function draw() {
    const items = [...data.items];
    const col = COLUMNS.find((c) => c.key === sortKey);
    items.sort((a, b) => {
      const ka = a[col.key];
      const kb = b[col.key];
      const cmp = ka < kb ? -1 : ka > kb ? 1 : 0;
      return sortDesc ? -cmp : cmp;
    });
    const billed = data.items.reduce((a, i) => a + (i.billed_ms || 0), 0);
    const maxCost = Math.max(0, ...data.items.map((i) => i.cost_usd || 0));
    mount(
      summary,
      h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, 'Estimated cost'), h('div', { class: 'tile-value', 'data-testid': 'total-cost' }, usd(data.total.cost_usd)), h('div', { class: 'muted small' }, `since ${data.since}`)),
      h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, 'Requests'), h('div', { class: 'tile-value' }, count(data.total.requests))),
      h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, 'Compute'), h('div', { class: 'tile-value' }, `${gbs(data.total.gb_seconds)} GB-s`), h('div', { class: 'muted small' }, `${ms(billed)} billed`)),
    );
    const headLabel = by === 'day' ? 'Day' : 'Function';
    const header = h(
      'tr',
      null,
      COLUMNS.map((c) =>
        h(
          'th',
          { class: c.num && 'num', 'aria-sort': c.key === sortKey ? (sortDesc ? 'descending' : 'ascending') : 'none' },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              onclick: () => {
                if (sortKey === c.key) sortDesc = !sortDesc;
                else {
                  sortKey = c.key;
                  sortDesc = !!c.num;
                }
                draw();
              },
            },
            c.label || headLabel,
            c.key === sortKey ? (sortDesc ? ' ▾' : ' ▴') : '',
          ),
        ),
      ),
      h('th', { class: 'share-col' }, 'Share of cost'),
    );
    const rows = items.map((i) =>
      h(
        'tr',
        null,
        h('td', null, by === 'function' ? h('a', { href: `#/functions/${encodeURIComponent(i.key)}` }, i.key) : i.key),
        COLUMNS.slice(1).map((c) => h('td', { class: 'num' }, c.show(i))),
        h('td', { class: 'share-col' }, h('div', { class: 'share' }, h('div', { class: 'share-bar', style: { width: `${maxCost ? (100 * (i.cost_usd || 0)) / maxCost : 0}%` } }))),
      ),
    );
    const total = h(
      'tr',
      { class: 'total' },
      h('td', null, 'Total'),
      h('td', { class: 'num' }, count(data.total.requests)),
      h('td', { class: 'num' }, ms(billed)),
      h('td', { class: 'num' }, gbs(data.total.gb_seconds)),
      h('td', { class: 'num' }, usd(data.total.cost_usd)),
      h('td', { class: 'share-col' }),
    );
    mount(
      result,
      h(
        'table',
        { class: 'grid usage', 'data-testid': 'usage-table' },
        h('thead', null, header),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { class: 'empty', colspan: 6 }, 'No invocations in this period.'))),
        rows.length ? h('tfoot', null, total) : null,
      ),
    );
    const p = data.prices || {};
    prices.textContent = `Estimated at $${p.per_gb_second} per GB-second and $${p.per_million_requests} per million requests (Lambda's x86 list prices unless the server was started with other ones). Billed duration is rounded up to 1 ms per invocation.`;
  }

  async function load() {
    setQuery({ by: by === 'function' ? '' : by, since: since.value === dayBefore(30) ? '' : since.value });
    try {
      data = await api.usage(by, since.value, { signal });
      draw();
    } catch (err) {
      if (err.name !== 'AbortError') mount(result, errorBox(err, 'Could not load usage.'));
    }
  }

  byGroup.addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b || b.dataset.by === by) return;
    by = b.dataset.by;
    sortKey = by === 'day' ? 'key' : 'cost_usd';
    sortDesc = true;
    for (const el of byGroup.children) {
      el.classList.toggle('active', el === b);
      el.setAttribute('aria-pressed', String(el === b));
    }
    load();
  });
  since.addEventListener('change', () => {
    if (since.value) load();
  });

  mount(
    main,
    h(
      'div',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, 'Usage & cost')),
      h('div', { class: 'toolbar' }, byGroup, h('label', { class: 'inline' }, 'Since ', since)),
      summary,
      result,
      prices,
    ),
  );
  load();
}
