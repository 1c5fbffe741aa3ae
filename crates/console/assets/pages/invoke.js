// The Test tab: a JSON event editor, Invoke (RequestResponse with the log
// tail), and the result: status, function error, response and decoded log.
// The last payload per function is remembered in localStorage.

import { h, mount, errorBox } from '/_lamina/console/dom.js';
import { api } from '/_lamina/console/api.js';
import { prettyJson, ms } from '/_lamina/console/format.js';

const DEFAULT_PAYLOAD = '{\n  "key1": "value1",\n  "key2": "value2"\n}';
const storeKey = (name) => `lamina.console.payload.${name}`;

function remembered(name) {
  try {
    return localStorage.getItem(storeKey(name));
  } catch {
    return null;
  }
}

function remember(name, text) {
  try {
    localStorage.setItem(storeKey(name), text);
  } catch {
    // Private mode or full storage: the payload just isn't remembered.
  }
}

/** The fields of a REPORT line, e.g. {Duration: '1.2 ms', 'Billed Duration': '2 ms'}. */
export function parseReport(log) {
  const line = log.split('\n').find((l) => l.startsWith('REPORT '));
  if (!line) return null;
  const fields = {};
  for (const part of line.slice(7).split('\t')) {
    const i = part.indexOf(':');
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return fields;
}

export function logLine(text) {
  const kind = /^(START|END|REPORT|INIT_START) /.test(text)
    ? 'platform'
    : /\b(ERROR|Error|Exception|Traceback|Task timed out)\b/.test(text)
      ? 'error'
      : /\bWARN(ING)?\b/.test(text)
        ? 'warn'
        : '';
  return h('div', { class: ['log-line', kind] }, text);
}

export function render(content, { name, data }) {
  const editor = h('textarea', {
    class: 'editor',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-label': 'Event JSON',
    'data-testid': 'payload',
    rows: 12,
    value: remembered(name) ?? DEFAULT_PAYLOAD,
  });
  const validity = h('span', { class: 'validity' });
  const qualifier = h(
    'select',
    { 'aria-label': 'Version or alias' },
    h('option', { value: '' }, '$LATEST'),
    data.versions.filter((v) => v.Version !== '$LATEST').reverse().map((v) => h('option', { value: v.Version }, `Version ${v.Version}`)),
    data.aliases.map((a) => h('option', { value: a.Name }, `Alias ${a.Name} → ${a.FunctionVersion}`)),
  );
  const invokeBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'invoke' }, 'Invoke');
  const format = h('button', { type: 'button', class: 'ghost' }, 'Format');
  const result = h('div', { class: 'result', 'aria-live': 'polite', 'data-testid': 'result' });

  function check() {
    const text = editor.value.trim();
    if (!text) {
      validity.textContent = 'Empty event';
      validity.className = 'validity muted';
      return true;
    }
    try {
      JSON.parse(text);
      validity.textContent = 'Valid JSON';
      validity.className = 'validity ok';
      return true;
    } catch (err) {
      validity.textContent = err.message.replace(/^JSON\.parse: /, '');
      validity.className = 'validity bad';
      return false;
    }
  }

  async function invoke(ev) {
    if (ev) ev.preventDefault();
    if (!check() || invokeBtn.disabled) return;
    remember(name, editor.value);
    invokeBtn.disabled = true;
    invokeBtn.textContent = 'Invoking…';
    mount(result, h('div', { class: 'loading' }, h('span', { class: 'spin' }), `Invoking ${name}…`));
    try {
      const r = await api.invoke(name, editor.value.trim(), qualifier.value);
      mount(result, outcome(r));
    } catch (err) {
      mount(result, errorBox(err, 'Invoke failed.'));
    } finally {
      invokeBtn.disabled = false;
      invokeBtn.textContent = 'Invoke';
    }
  }

  editor.addEventListener('input', check);
  editor.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) invoke(ev);
  });
  format.addEventListener('click', () => {
    if (check() && editor.value.trim()) editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
  });

  mount(
    content,
    h(
      'div',
      { class: 'invoke-layout' },
      h(
        'form',
        { class: 'card invoke-form', onsubmit: invoke },
        h('h2', null, 'Test event'),
        editor,
        h('div', { class: 'toolbar' }, invokeBtn, qualifier, format, validity, h('span', { class: 'muted small hint' }, 'Ctrl+Enter to invoke')),
      ),
      result,
    ),
  );
  check();
}

function outcome(r) {
  const report = parseReport(r.logTail);
  const failed = !!r.functionError;
  const chips = report
    ? ['Duration', 'Billed Duration', 'Init Duration', 'Memory Size', 'Max Memory Used']
        .filter((k) => report[k])
        .map((k) => h('span', { class: 'chip' }, h('span', { class: 'muted' }, `${k} `), report[k]))
    : [];
  return h(
    'div',
    { class: 'card' },
    h(
      'div',
      { class: 'result-head' },
      h('span', { class: ['status', failed ? 'bad' : 'ok'], 'data-testid': 'invoke-status' }, failed ? `Function error: ${r.functionError}` : 'Succeeded'),
      h(
        'span',
        { class: 'muted small' },
        `HTTP ${r.status}`,
        r.executedVersion ? ` · version ${r.executedVersion}` : '',
        ` · ${ms(r.elapsedMs)} round trip`,
        r.requestId ? ` · request ${r.requestId}` : '',
      ),
    ),
    chips.length ? h('div', { class: 'chips' }, chips) : null,
    h('h3', null, 'Response'),
    h('pre', { class: ['code', failed && 'bad'], 'data-testid': 'invoke-response' }, r.body ? prettyJson(r.body) : '(empty)'),
    h('h3', null, 'Log output ', h('span', { class: 'muted small' }, '(last 4 KB)')),
    h(
      'div',
      { class: 'log-view short', 'data-testid': 'invoke-log' },
      r.logTail ? r.logTail.replace(/\n$/, '').split('\n').map(logLine) : h('span', { class: 'muted' }, 'No log output.'),
    ),
  );
}
