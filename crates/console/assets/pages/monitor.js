// Charts of invocations, errors, throttles, duration p50/p99 and peak
// concurrency, per minute, from /_lamina/series: for one function (its
// Monitor tab) or all of them (the Monitoring page, which adds what the
// scheduler holds right now from /_lamina/status).

import { h, mount, errorBox, section, table, setQuery } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { chart } from '/_lamina/console/chart.js';
import { bytes, compact, count } from '/_lamina/console/format.js';

const RANGES = [
  [60, '1 hour'],
  [180, '3 hours'],
  [720, '12 hours'],
  [1440, '24 hours'],
];
const REFRESH_MS = 15000;
const durationFormat = (v) => (v >= 1000 ? `${compact(v / 1000)}s` : `${compact(v)}ms`);

const sum = (points, key) => points.reduce((a, p) => a + (Number(p[key]) || 0), 0);
const peak = (points, key) => points.reduce((a, p) => Math.max(a, Number(p[key]) || 0), 0);

/** The five charts with a range picker; returns a cleanup. */
export function renderCharts(content, { fn, signal }) {
  const query = new URLSearchParams((location.hash.split('?')[1] || ''));
  let minutes = RANGES.some(([m]) => String(m) === query.get('range')) ? Number(query.get('range')) : 60;
  const charts = {
    invocations: chart({ title: 'Invocations', kind: 'bar', series: [{ label: 'Invocations', key: 'invocations', color: 'blue' }] }),
    errors: chart({ title: 'Errors', kind: 'bar', series: [{ label: 'Errors', key: 'errors', color: 'red' }] }),
    throttles: chart({ title: 'Throttles', kind: 'bar', series: [{ label: 'Throttles', key: 'throttles', color: 'amber' }] }),
    duration: chart({
      title: 'Duration',
      format: durationFormat,
      series: [
        { label: 'p50', key: 'duration_p50_ms', color: 'green', gaps: true },
        { label: 'p99', key: 'duration_p99_ms', color: 'purple', gaps: true },
      ],
    }),
    concurrency: chart({ title: 'Concurrent executions', series: [{ label: 'Peak per minute', key: 'concurrency_max', color: 'teal' }] }),
  };
  const notice = h('div');
  const updated = h('span', { class: 'muted small' });
  const picker = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Time range' },
    RANGES.map(([m, label]) =>
      h('button', { type: 'button', class: m === minutes && 'active', 'aria-pressed': String(m === minutes), dataset: { minutes: String(m) } }, label),
    ),
  );
  picker.addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    minutes = Number(b.dataset.minutes);
    for (const el of picker.children) {
      el.classList.toggle('active', el === b);
      el.setAttribute('aria-pressed', String(el === b));
    }
    setQuery({ range: minutes === 60 ? '' : minutes });
    refresh();
  });

  let timer = 0;
  let stopped = false;
  async function refresh() {
    clearTimeout(timer);
    try {
      const series = await api.series(fn, minutes, { signal });
      if (stopped) return;
      const pts = series.points;
      const now = Math.floor(Date.now() / 1000);
      const to = pts.length ? pts[pts.length - 1].t + 60 : Math.ceil(now / 60) * 60;
      const range = { from: to - minutes * 60, to };
      const inv = sum(pts, 'invocations');
      const err = sum(pts, 'errors');
      charts.invocations.update(pts, range, `${count(inv)} total`);
      charts.errors.update(pts, range, `${count(err)}${inv ? ` · ${((err / inv) * 100).toFixed(err && err / inv < 0.01 ? 2 : 1)}%` : ''}`);
      charts.throttles.update(pts, range, `${count(sum(pts, 'throttles'))} total`);
      charts.duration.update(pts, range, inv ? `p99 peak ${durationFormat(peak(pts, 'duration_p99_ms'))}` : '');
      charts.concurrency.update(pts, range, `peak ${count(peak(pts, 'concurrency_max'))}`);
      mount(notice, series.missing ? h('p', { class: 'alert info' }, 'This server does not serve metrics series (/_lamina/series) yet; the charts stay empty.') : null);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (err.name === 'AbortError') return;
      mount(notice, errorBox(err, 'Could not load metrics.'));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  mount(
    content,
    h(
      'div',
      { class: 'monitor' },
      h('div', { class: 'toolbar' }, picker, updated),
      notice,
      h('div', { class: 'chart-grid' }, Object.values(charts).map((c) => c.el)),
    ),
  );
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    Object.values(charts).forEach((c) => c.disconnect());
  };
}

/** The Monitoring page: the scheduler right now, then every function's charts. */
export function render(main, { signal }) {
  document.title = 'Monitoring · Lamina';
  const tiles = h('div', { class: 'tiles' });
  const warm = h('div');
  const charts = h('div');
  mount(
    main,
    h(
      'div',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, 'Monitoring'), h('span', { class: 'muted' }, 'All functions')),
      tiles,
      charts,
      warm,
    ),
  );
  const tile = (label, value, sub) => h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'muted small' }, sub) : null);
  let timer = 0;
  let stopped = false;
  async function status() {
    try {
      const st = await api.status({ signal });
      if (stopped) return;
      const used = st.memory_used_mib || 0;
      const cap = st.memory_capacity_mib || 0;
      mount(
        tiles,
        tile('Running now', count(st.concurrent_executions), 'concurrent executions'),
        tile('Warm sandboxes', count(st.idle_sandboxes), 'idle, ready for the next event'),
        tile('Sandbox memory', bytes(used * 1048576), cap ? `of ${bytes(cap * 1048576)} (${Math.round((used / cap) * 100)}%)` : ''),
        tile('Unreserved concurrency', count(st.unreserved_concurrency), 'available to functions without a reservation'),
      );
      const rows = Object.entries(st.idle_by_function || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      mount(
        warm,
        section(
          'Warm sandboxes by function',
          table(
            [
              { label: 'Function', cell: ([name]) => h('a', { href: `#/functions/${encodeURIComponent(name)}/monitor` }, name) },
              { label: 'Idle sandboxes', class: 'num', cell: ([, n]) => count(n) },
            ],
            rows.slice(0, 50),
            { empty: 'No warm sandboxes: every function will cold-start on its next invocation.' },
          ),
        ),
      );
    } catch (err) {
      if (err.name !== 'AbortError') mount(tiles, errorBox(err, 'Could not read the server status.'));
    }
    if (!stopped) timer = setTimeout(status, 5000);
  }
  status();
  const stopCharts = renderCharts(charts, { fn: null, signal });
  return () => {
    stopped = true;
    clearTimeout(timer);
    stopCharts();
  };
}
