// The Lamina web console in a real browser: Debian's chromium driven by
// playwright-core against a real `lamina server` (LAMINA_BIN, default
// target/release/lamina). Loads every page, invokes a Python function from
// the Test form, follows its logs, and checks the list with 200 functions.
//
//   npm --prefix tests/console install
//   node --test tests/console/
//
// Fails (never skips) when chromium or the binary is missing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, createFunction, invoke, launchBrowser, pool, startServer, zip, PYTHON_APP } from './lib.mjs';

const FN = 'console-test';
const BULK = 200;

let server;
let browser;
let page;
const problems = [];

async function open(hash) {
  await page.goto(`${server.url}/_lamina/console${hash}`);
}

describe('lamina web console', { timeout: 300_000 }, () => {
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    page = browser.context.pages()[0] || (await browser.context.newPage());
    page.setDefaultTimeout(15_000);
    // Any script error or failed console call fails the run at the end,
    // CSP violations included.
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
    });
    await createFunction(server.url, FN, zip({ 'app.py': PYTHON_APP }), {
      Description: 'Made by the console browser test',
      MemorySize: 256,
      Timeout: 5,
      Environment: { Variables: { GREETING: '<b>not markup</b>' } },
      Tags: { team: 'console' },
    });
    await call(server.url, 'POST', `/2015-03-31/functions/${FN}/versions`, { Description: 'first' });
    await call(server.url, 'POST', `/2015-03-31/functions/${FN}/aliases`, { Name: 'live', FunctionVersion: '1' });
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  test('the console and its assets are served by the binary', async () => {
    const resp = await fetch(`${server.url}/_lamina/console`);
    assert.equal(resp.status, 200);
    assert.match(resp.headers.get('content-type'), /text\/html/);
    assert.match(resp.headers.get('content-security-policy'), /script-src 'self'/);
    const js = await fetch(`${server.url}/_lamina/console/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /javascript/);
    assert.equal((await fetch(`${server.url}/_lamina/console/missing.js`)).status, 404);
  });

  test('function list shows the function and links to it', async () => {
    await open('');
    const row = page.locator(`[data-function="${FN}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /python3\.12/);
    assert.match(await row.innerText(), /256 MB/);
    await row.click();
    await page.waitForURL(new RegExp(`#/functions/${FN}$`));
    await page.locator('h1', { hasText: FN }).waitFor();
  });

  test('function detail shows configuration, versions, aliases and tags', async () => {
    await open(`#/functions/${FN}`);
    const main = page.locator('main');
    await main.getByText(`arn:aws:lambda:`).first().waitFor();
    const text = await main.innerText();
    assert.match(text, /app\.handler/);
    assert.match(text, /Made by the console browser test/);
    assert.match(text, /Versions \(2\)/, 'lists $LATEST and version 1');
    assert.match(text, /Aliases \(1\)/);
    assert.match(text, /live/);
    assert.match(text, /team/);
    // Data from the server is text, never markup.
    assert.match(text, /<b>not markup<\/b>/);
    assert.equal(await main.locator('b', { hasText: 'not markup' }).count(), 0);
  });

  test('test form invokes the function and shows response and log tail', async () => {
    await open(`#/functions/${FN}/test`);
    const payload = page.getByTestId('payload');
    await payload.fill('{"name": "browser"}');
    await page.getByTestId('invoke').click();
    await assert.doesNotReject(page.getByTestId('invoke-status').filter({ hasText: 'Succeeded' }).waitFor());
    const response = await page.getByTestId('invoke-response').innerText();
    assert.match(response, /"greeting": "hello browser"/);
    const log = await page.getByTestId('invoke-log').innerText();
    assert.match(log, /START RequestId: /);
    assert.match(log, /hello from the console test: \{"name": "browser"\}/);
    assert.match(log, /REPORT RequestId: .*Duration: /);
    assert.match(await page.getByTestId('result').innerText(), /Billed Duration/);

    // A function error is shown as one, with the error document.
    await payload.fill('{"fail": true}');
    await page.getByTestId('invoke').click();
    await page.getByTestId('invoke-status').filter({ hasText: 'Function error: Unhandled' }).waitFor();
    assert.match(await page.getByTestId('invoke-response').innerText(), /asked to fail/);
    assert.match(await page.getByTestId('invoke-log').innerText(), /ValueError/);

    // Invalid JSON is caught before it is sent.
    await payload.fill('{"oops": ');
    assert.match(await page.locator('.validity').innerText(), /JSON|Unexpected|end/i);
  });

  test('logs page shows START lines and follows new ones live', async () => {
    await open(`#/functions/${FN}/logs`);
    const logs = page.getByTestId('logs');
    await logs.locator('.log-line.platform', { hasText: /START RequestId: / }).first().waitFor();
    await invoke(server.url, FN, { name: 'live-tail-marker' });
    await logs.getByText(/live-tail-marker/).waitFor({ timeout: 10_000 });
  });

  test('monitor tab draws the five charts', async () => {
    await open(`#/functions/${FN}/monitor`);
    const charts = page.locator('figure.chart');
    await page.locator('figure.chart svg').nth(4).waitFor();
    assert.equal(await charts.count(), 5);
    const series = await (await fetch(`${server.url}/_lamina/series?function=${FN}&minutes=60`)).json().catch(() => null);
    if (series && Array.isArray(series.points) && series.points.some((p) => p.invocations > 0)) {
      const summary = page.locator('[data-chart="Invocations"] .chart-summary');
      await assert.doesNotReject(summary.filter({ hasText: /[1-9]\d* total/ }).waitFor());
      assert.ok((await page.locator('[data-chart="Invocations"] path.bar').count()) >= 1, 'invocation bars drawn');
    }
    await page.locator('.segmented button', { hasText: '3 hours' }).click();
    await page.waitForURL(/range=180/);
  });

  test('monitoring page shows the server status and all-function charts', async () => {
    await open('#/monitoring');
    await page.locator('.tile', { hasText: 'Warm sandboxes' }).waitFor();
    await page.locator('figure.chart svg').nth(4).waitFor();
    await page.getByText('Warm sandboxes by function').waitFor();
  });

  test('usage page shows requests and cost per function', async () => {
    await open('#/usage');
    const row = page.getByTestId('usage-table').locator('tbody tr', { hasText: FN });
    await row.waitFor();
    const cells = await row.locator('td').allInnerTexts();
    assert.ok(Number(cells[1].replace(/\D/g, '')) >= 2, `requests counted: ${cells}`);
    assert.match(cells[4], /^\$/);
    assert.match(await page.getByTestId('total-cost').innerText(), /^\$/);
    await page.locator('.segmented button', { hasText: 'By day' }).click();
    await page.getByTestId('usage-table').locator('tbody tr td', { hasText: /^\d{4}-\d\d-\d\d$/ }).first().waitFor();
  });

  test(`list page stays fast with ${BULK} more functions`, async () => {
    const code = zip({ 'app.py': PYTHON_APP });
    const names = Array.from({ length: BULK }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
    await pool(names, 8, (name) => createFunction(server.url, name, code));

    const started = Date.now();
    await open('#/functions');
    const counter = page.getByTestId('function-count');
    await counter.filter({ hasText: `${BULK + 1} functions` }).waitFor();
    const loadMs = Date.now() - started;
    assert.ok(loadMs < 5000, `list of ${BULK + 1} loaded in ${loadMs} ms`);

    // Virtualised: a screenful of rows in the DOM, not all of them.
    const rendered = await page.locator('a.vrow').count();
    assert.ok(rendered > 10 && rendered < 80, `${rendered} rows rendered`);

    // Scroll to the end: the last function is drawn.
    await page.locator('.vlist').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator('[data-function="console-test"]').waitFor();

    // Filter narrows to one; Enter opens it.
    const search = page.locator('input[data-search]');
    await search.fill('bulk-0199');
    await counter.filter({ hasText: `1 of ${BULK + 1} functions` }).waitFor();
    assert.equal(await page.locator('a.vrow').count(), 1);
    await search.press('Enter');
    await page.waitForURL(/#\/functions\/bulk-0199$/);

    // Sorting by memory puts the 256 MB function first.
    await open('#/functions');
    await counter.filter({ hasText: `${BULK + 1} functions` }).waitFor();
    await page.locator('.vhead button', { hasText: 'Memory' }).click();
    assert.equal(await page.locator('a.vrow').first().getAttribute('data-function'), FN);
  });

  test('unknown routes say so', async () => {
    await open('#/nowhere');
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
  });

  test('no script errors on any page', () => {
    assert.deepEqual(problems, []);
  });
});
