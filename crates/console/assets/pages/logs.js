// The Logs tab: the function's log lines, newest at the bottom, polled
// every second from /_lamina/logs after the last id seen. Older history is
// skipped to the last MAX_LINES lines; the view follows new lines unless
// the reader has scrolled up.

import { h, mount } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { clock, count, dateTime } from '/_lamina/console/format.js';
import { logLine } from '/_lamina/console/pages/invoke.js';

const MAX_LINES = 3000;
const PAGE = 5000;
const POLL_MS = 1000;

export function render(content, { name, signal }) {
  let after = 0;
  let timer = 0;
  let paused = false;
  let stopped = false;
  let failures = 0;
  let total = 0;
  const lines = [];

  const filter = h('input', { type: 'search', class: 'search', placeholder: 'Filter lines', 'aria-label': 'Filter log lines', 'data-search': '' });
  const pauseBtn = h('button', { type: 'button', class: 'ghost' }, 'Pause');
  const clearBtn = h('button', { type: 'button', class: 'ghost', title: 'Hide the lines shown so far' }, 'Clear');
  const live = h('span', { class: 'live' });
  const view = h('div', { class: 'log-view tall', 'data-testid': 'logs', role: 'log', 'aria-label': `Logs of ${name}` });
  const note = h('span', { class: 'muted small' });

  function lineNode(ev) {
    const row = logLine(ev.message.replace(/\n$/, ''));
    row.prepend(h('time', { class: 'ts', title: `${dateTime(ev.timestamp)} · ${ev.stream}` }, clock(ev.timestamp, true)));
    return row;
  }

  function shows(ev) {
    const f = filter.value.trim().toLowerCase();
    return !f || ev.message.toLowerCase().includes(f);
  }

  function redraw() {
    const nodes = lines.filter(shows).map(lineNode);
    if (!nodes.length) nodes.push(h('div', { class: 'muted empty-log' }, lines.length ? 'No line matches the filter.' : 'No log lines yet. Invoke the function and they appear here.'));
    view.replaceChildren(...nodes);
    view.scrollTop = view.scrollHeight;
  }

  function add(events) {
    if (!events.length) return;
    const following = view.scrollTop + view.clientHeight >= view.scrollHeight - 24;
    const wasEmpty = !lines.length || view.querySelector('.empty-log');
    lines.push(...events);
    total += events.length;
    const dropped = Math.max(0, lines.length - MAX_LINES);
    if (dropped) lines.splice(0, dropped);
    // Trimming the front is rare (a burst past MAX_LINES): redraw then.
    if (wasEmpty || dropped) return redraw();
    view.append(...events.filter(shows).map(lineNode));
    if (following) view.scrollTop = view.scrollHeight;
  }

  function setLive() {
    if (paused) mount(live, h('span', { class: 'dot' }), 'Paused');
    else if (failures) mount(live, h('span', { class: 'dot bad' }), 'Server not answering, retrying…');
    else mount(live, h('span', { class: 'dot ok pulse' }), 'Live');
    note.textContent = `${count(total)} line${total === 1 ? '' : 's'} read`;
  }

  async function poll() {
    timer = 0;
    if (stopped || paused) return;
    if (document.hidden) {
      timer = setTimeout(poll, POLL_MS);
      return;
    }
    try {
      // Catch up page by page on the first load, then one request a tick.
      for (;;) {
        const { events } = await api.logs(name, after, PAGE, { signal });
        if (events.length) after = events[events.length - 1].id;
        add(events);
        if (events.length < PAGE) break;
      }
      failures = 0;
    } catch (err) {
      if (err.name === 'AbortError') return;
      failures++;
    }
    setLive();
    if (!stopped) timer = setTimeout(poll, failures ? Math.min(10000, POLL_MS * 2 ** failures) : POLL_MS);
  }

  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    setLive();
    if (!paused && !timer) poll();
  });
  clearBtn.addEventListener('click', () => {
    lines.length = 0;
    redraw();
  });
  filter.addEventListener('input', redraw);

  mount(
    content,
    h('div', { class: 'card logs' }, h('div', { class: 'toolbar' }, live, filter, pauseBtn, clearBtn, note), view),
  );
  redraw();
  setLive();
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
