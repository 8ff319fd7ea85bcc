// End to end in a real browser: a page using AWS Amplify JS v6 (page/, bundled with esbuild),
// served by a tiny static server on 127.0.0.1, in Debian's Chromium driven by playwright-core
// (helpers in chromium.mjs), against a real `trainers serve` over https and wss with the
// project's own certificate, trusted as a developer trusts it on Linux: the local CA in an NSS database
// ($HOME/.pki/nssdb, via certutil), which Chromium reads. No certificate errors are ignored.
//
// Run: bash scripts/e2e-clients.sh. TRAINERS_SCREENSHOT=FILE saves the page as it shows the
// events (docs/browser-amplify.png is one).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, homeTrusting, launch, serveSite } from './chromium.mjs';
import { FIELDS, post, startServer, tlsFiles } from '../lib/trainers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const KEY = 'da2-e2ebrowseramplifykey00000';

let server;
let site;
let work;

/** Chromium with a fresh profile and the given HOME; the page's console is kept for failures. */
async function openPage(home) {
  const context = await launch(work, home, { viewport: { width: 900, height: 560 } });
  const page = context.pages()[0] ?? (await context.newPage());
  const log = [];
  const sockets = [];
  const failed = [];
  page.on('requestfailed', (request) => failed.push({ url: request.url(), error: request.failure()?.errorText }));
  page.on('console', (message) => log.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
  page.on('websocket', (socket) => sockets.push(socket.url()));
  await page.goto(site.url);
  return { context, page, log, sockets, failed };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'trainers-e2e-browser-'));
  server = await startServer({ keys: [KEY] });
  site = await serveSite({
    'index.html': { type: 'text/html; charset=utf-8', body: readFileSync(join(here, 'page', 'index.html')) },
    'app.js': { type: 'text/javascript; charset=utf-8', body: await bundle(join(here, 'page', 'app.mjs')) },
    'config.json': {
      type: 'application/json',
      body: JSON.stringify({ endpoint: `https://localhost:${server.port}/graphql`, apiKey: KEY }),
    },
  });
});

after(async () => {
  await site?.close();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a page with Amplify subscribes over wss and shows trainers as they are created, by it and by others', async () => {
  const { context, page, log, sockets, failed } = await openPage(homeTrusting(work, tlsFiles().ca));
  try {
    const status = page.locator('#status');
    await status.filter({ hasText: 'listening' }).waitFor({ timeout: 15_000 }).catch((error) => {
      throw new Error(`the page never listened: ${error.message}\n${log.join('\n')}`);
    });
    assert.deepEqual(sockets, [`wss://localhost:${server.port}/graphql/realtime`]);

    // Made by another client (plain HTTP from Node): the page shows it.
    const made = await post(
      server.http,
      KEY,
      `mutation { createTrainer(firstName: "Grace", lastName: "Hopper", age: 45, specialty: CORRECTIVEEXERCISE) { ${FIELDS} } }`,
    );
    const grace = made.body.data.createTrainer;
    const graceRow = page.locator(`#events tr[data-id="${grace.id}"]`);
    await graceRow.waitFor({ timeout: 10_000 });
    assert.equal(await graceRow.locator('td.name').textContent(), 'Grace Hopper');
    assert.equal(await graceRow.locator('td.specialty').textContent(), 'CORRECTIVEEXERCISE');

    // Made by the page itself, through Amplify over https: stored, and shown by its subscription.
    await page.fill('input[name="firstName"]', 'Ada');
    await page.fill('input[name="lastName"]', 'Lovelace');
    await page.fill('input[name="age"]', '36');
    await page.selectOption('select[name="specialty"]', 'YOUTHFITNESS');
    await page.click('button[type="submit"]');
    const adaRow = page.locator('#events tr', { hasText: 'Ada Lovelace' });
    await adaRow.waitFor({ timeout: 10_000 });
    assert.equal(await adaRow.locator('td.age').textContent(), '36');
    const adaId = await adaRow.getAttribute('data-id');
    const stored = await post(server.http, KEY, 'query ($id: ID!) { getTrainer(id: $id) { firstName specialty } }', {
      id: adaId,
    });
    assert.deepEqual(stored.body.data.getTrainer, { firstName: 'Ada', specialty: 'YOUTHFITNESS' });
    assert.equal(await page.locator('#error').textContent(), '');
    assert.equal(await page.locator('#events tr').count(), 2);
    assert.deepEqual(failed, [], 'no request failed');

    if (process.env.TRAINERS_SCREENSHOT) {
      await page.screenshot({ path: resolve(process.env.TRAINERS_SCREENSHOT), fullPage: true });
    }
  } finally {
    await context.close();
  }
});

test('without the local CA trusted, the same page cannot reach the API (no certificate errors ignored)', async () => {
  const { context, page, failed } = await openPage(homeTrusting(work, null));
  try {
    await page.fill('input[name="firstName"]', 'Eve');
    await page.fill('input[name="lastName"]', 'Untrusted');
    await page.click('button[type="submit"]');
    await page.locator('#error').filter({ hasText: /\S/ }).waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#error').textContent(), /network error/);
    assert.ok(
      failed.some((f) => f.url === `https://localhost:${server.port}/graphql` && f.error === 'net::ERR_CERT_AUTHORITY_INVALID'),
      JSON.stringify(failed),
    );
    assert.notEqual(await page.locator('#status').textContent(), 'listening');
    assert.equal(await page.locator('#events tr').count(), 0);
    const all = await post(server.http, KEY, 'query { allTrainers(limit: 100) { items { firstName } } }');
    assert.ok(!all.body.data.allTrainers.items.some((t) => t.firstName === 'Eve'), 'Eve was stored');
  } finally {
    await context.close();
  }
});
