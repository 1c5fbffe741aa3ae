// One function: a header with its vital signs and four tabs: configuration
// (with versions, aliases and tags), test invoke, live logs and charts.
// GetFunction is cached for a few seconds so moving between tabs is free.

import { h, mount, errorBox, facts, section, table, spinner } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { bytes, count, dateTime, ago } from '/_lamina/console/format.js';

const TABS = [
  ['config', 'Configuration'],
  ['test', 'Test'],
  ['logs', 'Logs'],
  ['monitor', 'Monitor'],
];
const FRESH_MS = 10000;
const cache = new Map();

async function load(name, signal) {
  const hit = cache.get(name);
  if (hit && Date.now() - hit.at < FRESH_MS) return hit;
  const [fn, versions, aliases] = await Promise.all([
    api.getFunction(name, { signal }),
    api.versions(name, { signal }).catch(() => []),
    api.aliases(name, { signal }).catch(() => []),
  ]);
  const entry = { fn, versions, aliases, at: Date.now() };
  cache.set(name, entry);
  if (cache.size > 50) cache.delete(cache.keys().next().value);
  return entry;
}

export function render(main, { params, signal }) {
  const [name, tab = 'config'] = params;
  document.title = `${name} · Lamina`;
  const link = (t) => `#/functions/${encodeURIComponent(name)}${t === 'config' ? '' : `/${t}`}`;
  const badges = h('div', { class: 'badges' });
  const content = h('div', { class: 'tab-content' }, spinner());
  mount(
    main,
    h(
      'div',
      { class: 'page' },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/functions' }, 'Functions'), h('span', { 'aria-hidden': 'true' }, ' / ')),
      h('div', { class: 'page-head' }, h('h1', { class: 'fn-name' }, name), badges),
      h(
        'nav',
        { class: 'tabs', role: 'tablist' },
        TABS.map(([key, label]) => h('a', { href: link(key), role: 'tab', class: key === tab && 'active', 'aria-selected': String(key === tab) }, label)),
      ),
      content,
    ),
  );

  let cleanup = null;
  let gone = false;
  (async () => {
    let data;
    try {
      data = await load(name, signal);
    } catch (err) {
      if (err.name === 'AbortError') return;
      mount(content, errorBox(err, err.status === 404 ? 'No such function.' : 'Could not load the function.'));
      return;
    }
    if (gone) return;
    const c = data.fn.Configuration || {};
    mount(
      badges,
      h('span', { class: 'badge' }, c.Runtime || c.PackageType),
      h('span', { class: 'badge' }, `${count(c.MemorySize)} MB`),
      h('span', { class: 'badge' }, `${count(c.Timeout)} s timeout`),
      c.State ? h('span', { class: ['badge', c.State === 'Active' ? 'ok' : 'warn'] }, c.State) : null,
    );
    if (tab === 'config') mount(content, configuration(data));
    else if (tab === 'test') cleanup = (await import('/_lamina/console/pages/invoke.js')).render(content, { name, data, signal });
    else if (tab === 'logs') cleanup = (await import('/_lamina/console/pages/logs.js')).render(content, { name, signal });
    else if (tab === 'monitor') cleanup = (await import('/_lamina/console/pages/monitor.js')).renderCharts(content, { fn: name, signal });
    if (gone && cleanup) cleanup();
  })();
  return () => {
    gone = true;
    if (cleanup) cleanup();
  };
}

function configuration({ fn, versions, aliases }) {
  const c = fn.Configuration || {};
  const env = Object.entries((c.Environment && c.Environment.Variables) || {}).sort(([a], [b]) => a.localeCompare(b));
  const tags = Object.entries(fn.Tags || {}).sort(([a], [b]) => a.localeCompare(b));
  const reserved = fn.Concurrency && fn.Concurrency.ReservedConcurrentExecutions;
  const code = fn.Code && fn.Code.Location;
  const general = facts([
    ['ARN', h('code', { class: 'wrap' }, c.FunctionArn)],
    ['Description', c.Description],
    ['Runtime', c.Runtime],
    ['Handler', c.Handler ? h('code', null, c.Handler) : ''],
    ['Architecture', (c.Architectures || []).join(', ')],
    ['Memory', c.MemorySize ? `${count(c.MemorySize)} MB` : ''],
    ['Timeout', c.Timeout ? `${count(c.Timeout)} s` : ''],
    ['Ephemeral storage', c.EphemeralStorage ? `${count(c.EphemeralStorage.Size)} MB` : ''],
    ['Reserved concurrency', reserved === undefined || reserved === null ? 'unreserved' : count(reserved)],
    ['Role', c.Role ? h('code', { class: 'wrap' }, c.Role) : ''],
    ['State', [c.State, c.StateReason ? ` — ${c.StateReason}` : ''].join('')],
    ['Last modified', c.LastModified ? h('span', { title: dateTime(c.LastModified) }, ago(c.LastModified)) : ''],
  ]);
  const codeFacts = facts([
    ['Package type', c.PackageType],
    ['Code size', c.CodeSize !== undefined ? bytes(c.CodeSize) : ''],
    ['SHA-256', c.CodeSha256 ? h('code', { class: 'wrap' }, c.CodeSha256) : ''],
    ['Download', code ? h('a', { href: code, download: `${c.FunctionName}.zip` }, 'Code package (.zip)') : ''],
    ['Layers', (c.Layers || []).length ? h('ul', { class: 'plain' }, c.Layers.map((l) => h('li', null, h('code', { class: 'wrap' }, l.Arn)))) : ''],
    ['Log group', c.LoggingConfig && c.LoggingConfig.LogGroup ? h('code', null, c.LoggingConfig.LogGroup) : `/aws/lambda/${c.FunctionName}`],
  ]);
  return h(
    'div',
    { class: 'cards' },
    section('General configuration', general),
    section('Code', codeFacts),
    section(
      `Environment variables (${env.length})`,
      table(
        [
          { label: 'Key', cell: ([k]) => h('code', null, k) },
          { label: 'Value', cell: ([, v]) => h('code', { class: 'wrap' }, v) },
        ],
        env,
        { empty: 'No environment variables.' },
      ),
    ),
    section(
      `Versions (${versions.length})`,
      table(
        [
          { label: 'Version', cell: (v) => h('strong', null, v.Version) },
          { label: 'Description', cell: (v) => v.Description || h('span', { class: 'muted' }, '—') },
          { label: 'Code SHA-256', cell: (v) => h('code', { title: v.CodeSha256 }, (v.CodeSha256 || '').slice(0, 12)) },
          { label: 'Last modified', cell: (v) => h('span', { title: dateTime(v.LastModified) }, ago(v.LastModified)) },
        ],
        versions,
        { empty: 'No versions.', rowClass: (v) => v.Version === '$LATEST' && 'latest' },
      ),
    ),
    section(
      `Aliases (${aliases.length})`,
      table(
        [
          { label: 'Alias', cell: (a) => h('strong', null, a.Name) },
          { label: 'Version', cell: (a) => a.FunctionVersion },
          {
            label: 'Weighted routing',
            cell: (a) => {
              const w = (a.RoutingConfig && a.RoutingConfig.AdditionalVersionWeights) || {};
              const parts = Object.entries(w).map(([v, weight]) => `${v}: ${Math.round(weight * 100)}%`);
              return parts.length ? parts.join(', ') : h('span', { class: 'muted' }, '—');
            },
          },
          { label: 'Description', cell: (a) => a.Description || h('span', { class: 'muted' }, '—') },
        ],
        aliases,
        { empty: 'No aliases.' },
      ),
    ),
    section(
      `Tags (${tags.length})`,
      table(
        [
          { label: 'Key', cell: ([k]) => k },
          { label: 'Value', cell: ([, v]) => v },
        ],
        tags,
        { empty: 'No tags.' },
      ),
    ),
  );
}
