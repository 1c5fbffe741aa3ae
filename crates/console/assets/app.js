// The console's shell: hash routing, the header's live server summary, and
// the page lifecycle. A page is a module whose render(main, route) draws
// into <main> and may return a cleanup (timers, pollers) that runs when the
// user navigates away; route.signal aborts its pending fetches then.

import { h, mount, errorBox } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { bytes, count } from '/_lamina/console/format.js';

const routes = [
  { pattern: /^\/?$/, nav: 'functions', load: () => import('/_lamina/console/pages/functions.js') },
  { pattern: /^\/functions\/?$/, nav: 'functions', load: () => import('/_lamina/console/pages/functions.js') },
  {
    pattern: /^\/functions\/([^/]+)(?:\/(config|test|logs|monitor))?\/?$/,
    nav: 'functions',
    load: () => import('/_lamina/console/pages/function.js'),
  },
  { pattern: /^\/monitoring\/?$/, nav: 'monitoring', load: () => import('/_lamina/console/pages/monitor.js') },
  { pattern: /^\/usage\/?$/, nav: 'usage', load: () => import('/_lamina/console/pages/usage.js') },
];

const main = document.getElementById('main');
let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

async function navigate() {
  const { path, query } = parseHash();
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === 'function') current.cleanup();
  }
  const controller = new AbortController();
  const mine = { controller, cleanup: null };
  current = mine;
  const route = routes.find((r) => r.pattern.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', !!route && a.dataset.nav === route.nav);
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!route) {
    document.title = 'Not found · Lamina';
    mount(main, h('div', { class: 'page' }, h('h1', null, 'Not found'), h('p', null, 'No page at ', h('code', null, path), '. ', h('a', { href: '#/functions' }, 'Back to functions'))));
    return;
  }
  const params = path.match(route.pattern).slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
  try {
    const page = await route.load();
    if (current !== mine) return;
    const cleanup = page.render(main, { params, query, signal: controller.signal });
    mine.cleanup = cleanup;
  } catch (err) {
    if (err.name === 'AbortError' || current !== mine) return;
    mount(main, h('div', { class: 'page' }, errorBox(err, 'This page failed to load.')));
  }
}

const state = document.getElementById('server-state');
async function pollServer() {
  if (document.hidden) return;
  try {
    const st = await api.status();
    const mem = `${bytes((st.memory_used_mib || 0) * 1048576)} / ${bytes((st.memory_capacity_mib || 0) * 1048576)}`;
    mount(
      state,
      h('span', { title: 'Server reachable; invocations running now' }, h('span', { class: 'dot ok' }), `${count(st.concurrent_executions)} running`),
      h('span', { title: 'Warm sandboxes waiting for work' }, `${count(st.idle_sandboxes)} warm`),
      h('span', { title: 'Sandbox memory in use / capacity' }, mem),
    );
  } catch {
    mount(state, h('span', null, h('span', { class: 'dot bad' }), 'Server unreachable'));
  }
}

window.addEventListener('hashchange', navigate);
document.addEventListener('visibilitychange', pollServer);
document.addEventListener('keydown', (ev) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || '');
  if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey) {
    const search = document.querySelector('[data-search]');
    if (search) {
      ev.preventDefault();
      search.focus();
      search.select();
    }
  }
});
navigate();
pollServer();
setInterval(pollServer, 5000);
