// Screenshots of every console page, for a reviewer to look at.
//
//   node tests/console/screenshot.mjs OUT_DIR [--url http://127.0.0.1:9000]
//
// Without --url it starts its own `lamina server` (LAMINA_BIN) on a fresh
// data directory and fills it with sample functions and traffic first, so
// the lists, charts, logs and usage have something to show. With --url it
// photographs that server as it is. Writes OUT_DIR/*.png and prints them.

import { mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { call, createFunction, invoke, launchBrowser, pool, startServer, zip, PYTHON_APP } from './lib.mjs';

const args = process.argv.slice(2);
const urlAt = args.indexOf('--url');
const givenUrl = urlAt >= 0 ? args.splice(urlAt, 2)[1] : null;
const outDir = args[0];
if (!outDir) {
  console.error('usage: node tests/console/screenshot.mjs OUT_DIR [--url http://HOST:PORT]');
  process.exit(2);
}

const SHOWCASE = 'orders-api';

async function seed(base) {
  const code = zip({ 'app.py': PYTHON_APP });
  await createFunction(base, SHOWCASE, code, {
    Description: 'Takes orders from the storefront',
    MemorySize: 512,
    Timeout: 10,
    Environment: { Variables: { TABLE: 'orders', LOG_LEVEL: 'info' } },
    Tags: { team: 'checkout', env: 'dev' },
  });
  await call(base, 'POST', `/2015-03-31/functions/${SHOWCASE}/versions`, { Description: 'launch' });
  await call(base, 'POST', `/2015-03-31/functions/${SHOWCASE}/aliases`, { Name: 'live', FunctionVersion: '1', Description: 'what the storefront calls' });
  const names = [];
  for (const area of ['billing', 'catalog', 'email', 'images', 'inventory', 'payments', 'reports', 'search', 'shipping', 'users']) {
    for (const job of ['api', 'worker', 'cron']) names.push(`${area}-${job}`);
  }
  await pool(names, 8, (name, i) =>
    createFunction(base, name, code, { MemorySize: [128, 256, 512, 1024][i % 4], Timeout: [3, 10, 30][i % 3], Description: `The ${name.replace('-', ' ')}` }),
  );
  // Traffic: the showcase gets most of it, a few errors among it.
  const calls = Array.from({ length: 80 }, (_, i) => i);
  await pool(calls, 4, (i) => invoke(base, SHOWCASE, i % 16 === 5 ? { fail: true } : { name: `customer-${i}` }));
  await pool(names.slice(0, 12), 4, async (name) => {
    for (let i = 0; i < 3; i++) await invoke(base, name, { name });
  });
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const server = givenUrl ? null : await startServer();
  const base = givenUrl || server.url;
  const browser = await launchBrowser();
  const written = [];
  try {
    if (!givenUrl) await seed(base);
    const page = browser.context.pages()[0] || (await browser.context.newPage());
    page.setDefaultTimeout(15000);
    // Long pages are taken whole; the list fills the window by design.
    const shot = async (name, hash, ready, prepare) => {
      await page.goto(`${base}/_lamina/console${hash}`);
      await ready(page);
      if (prepare) await prepare(page);
      await page.waitForTimeout(250);
      const path = resolve(join(outDir, `${name}.png`));
      await page.screenshot({ path, fullPage: !hash.startsWith('#/functions?') && hash !== '#/functions' });
      written.push(path);
    };
    const fn = givenUrl ? await anyFunction(base) : SHOWCASE;
    await shot('functions', '#/functions', (p) => p.getByTestId('function-count').filter({ hasText: /\d+ functions?$/ }).waitFor());
    if (fn) {
      const enc = encodeURIComponent(fn);
      await shot('function', `#/functions/${enc}`, (p) => p.getByText('General configuration').waitFor());
      await shot('test-invoke', `#/functions/${enc}/test`, async (p) => {
        await p.getByTestId('payload').fill('{\n  "name": "reviewer"\n}');
        await p.getByTestId('invoke').click();
        await p.getByTestId('invoke-status').waitFor();
      });
      await shot('logs', `#/functions/${enc}/logs`, (p) => p.getByTestId('logs').locator('.log-line').first().waitFor());
      await shot('monitor', `#/functions/${enc}/monitor`, (p) => p.locator('figure.chart svg').nth(4).waitFor(), async (p) => {
        const bar = p.locator('[data-chart="Invocations"] .overlay');
        const box = await bar.boundingBox();
        if (box) await p.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
      });
    }
    await shot('monitoring', '#/monitoring', (p) => p.locator('.tile').first().waitFor());
    await shot('usage', '#/usage', (p) => p.getByTestId('usage-table').waitFor());
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('functions-dark', '#/functions', (p) => p.getByTestId('function-count').filter({ hasText: /\d+ functions?$/ }).waitFor());
    if (fn) await shot('test-invoke-dark', `#/functions/${encodeURIComponent(fn)}/test`, async (p) => {
      await p.getByTestId('invoke').click();
      await p.getByTestId('invoke-status').waitFor();
    });
  } finally {
    await browser.close();
    if (server) await server.stop();
  }
  for (const path of written) console.log(path);
}

async function anyFunction(base) {
  const body = (await call(base, 'GET', '/2015-03-31/functions/?MaxItems=1')).json();
  return body.Functions && body.Functions[0] ? body.Functions[0].FunctionName : null;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
