// Accounts end to end in a real browser: a page using AWS Amplify JS v6 (page-auth/, bundled
// with esbuild like browser.e2e.mjs's page, by chromium.mjs) signs in against moto's Cognito
// (userPoolEndpoint, USER_PASSWORD_AUTH) and, with authMode 'userPool', edits only its own
// trainer on a real `trainers serve --auth-issuer … --auth-jwks-url …` over https. Debian's
// Chromium, driven by playwright-core, trusts the local CA through an NSS database; the page
// calls moto (http://127.0.0.1:PORT) across origins: moto_server sends CORS headers itself
// (flask-cors, on unless MOTO_DISABLE_GLOBAL_CORS), so nothing is proxied.
//
// Run: bash scripts/e2e-clients.sh.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, homeTrusting, launch, serveSite } from './chromium.mjs';
import { post, startServer, tlsFiles } from '../lib/trainers.mjs';
import { PASSWORD, authFlags, claimsOf, makePool, startMoto, waitUntilReady } from '../lib/cognito.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const KEY = 'da2-e2ebrowserauthkey0000000';
const FIELDS = 'id firstName lastName age owner version';

let moto;
let pool;
let server;
let site;
let work;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'trainers-e2e-browser-auth-'));
  moto = await startMoto();
  pool = await makePool(moto, { jane: [], joe: [] }, 'trainers-browser');
  server = await startServer({ keys: [KEY], extra: authFlags(pool) });
  await waitUntilReady(server.addr);
  site = await serveSite({
    'index.html': { type: 'text/html; charset=utf-8', body: readFileSync(join(here, 'page-auth', 'index.html')) },
    'app.js': { type: 'text/javascript; charset=utf-8', body: await bundle(join(here, 'page-auth', 'app.mjs')) },
    'config.json': {
      type: 'application/json',
      body: JSON.stringify({
        endpoint: `https://localhost:${server.port}/graphql`,
        userPoolId: pool.id,
        userPoolClientId: pool.clientId,
        userPoolEndpoint: moto.url,
      }),
    },
  });
});

after(async () => {
  try {
    await site?.close();
    await server?.stop();
  } finally {
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }
});

test('a page signs in with Amplify against moto\'s Cognito, creates and updates its own trainer, and is refused another user\'s', async () => {
  // Joe's trainer, made from Node with his own access token.
  const joeToken = (await pool.signIn('joe')).AccessToken;
  const made = await fetch(server.http, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: joeToken },
    body: JSON.stringify({
      query: `mutation { createTrainer(firstName: "Joe", lastName: "Other", age: 50) { ${FIELDS} } }`,
    }),
  });
  const joes = (await made.json()).data.createTrainer;
  assert.equal(joes.owner, `${claimsOf(joeToken).sub}::joe`);
  const janeSub = claimsOf((await pool.signIn('jane')).AccessToken).sub;
  const endpoint = `https://localhost:${server.port}/graphql`;

  const context = await launch(work, homeTrusting(work, tlsFiles().ca));
  const log = [];
  const failed = [];
  const origins = new Set();
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => log.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
    page.on('requestfailed', (request) => failed.push({ url: request.url(), error: request.failure()?.errorText }));
    page.on('request', (request) => origins.add(new URL(request.url()).origin));
    await page.goto(site.url);
    const error = page.locator('#error');
    /** Waits for `selector` to show `text`, or fails with what the page says. */
    const until = async (selector, text) => {
      await page
        .locator(selector)
        .filter({ hasText: text })
        .waitFor({ timeout: 15_000 })
        .catch(async (e) => {
          throw new Error(`${selector} never showed ${text}: ${e.message}\nerror: ${await error.textContent()}\n${log.join('\n')}`);
        });
    };

    // Sign in: Amplify's InitiateAuth (USER_PASSWORD_AUTH) goes to moto, across origins.
    await page.fill('#sign-in input[name="username"]', 'jane');
    await page.fill('#sign-in input[name="password"]', PASSWORD);
    await page.click('#sign-in button');
    await until('#user', 'jane');
    // Create: she owns it.
    await page.fill('#create input[name="firstName"]', 'Ada');
    await page.fill('#create input[name="age"]', '36');
    await page.click('#create button');
    await until('#trainer-firstName', 'Ada');
    assert.equal(await page.locator('#trainer-owner').textContent(), `${janeSub}::jane`);
    assert.equal(await page.locator('#trainer-version').textContent(), '1');
    const adaId = await page.locator('#trainer-id').textContent();

    // Update her own: it goes through.
    await page.fill('#update input[name="id"]', adaId);
    await page.fill('#update input[name="age"]', '37');
    await page.click('#update button');
    await until('#trainer-version', '2');
    assert.equal(await page.locator('#trainer-age').textContent(), '37');
    assert.equal(await error.textContent(), '');

    // Update joe's: Unauthorized, shown by the page.
    await page.fill('#update input[name="id"]', joes.id);
    await page.fill('#update input[name="age"]', '99');
    await page.click('#update button');
    await until('#error', 'Unauthorized');
    assert.equal(await error.textContent(), 'Unauthorized: Not Authorized to access updateTrainers on type Mutation');
    assert.equal(await page.locator('#trainer-id').textContent(), adaId, 'the page still shows her trainer');

    assert.deepEqual(failed, [], 'no request failed');
    assert.deepEqual(
      [...origins].sort(),
      [new URL(site.url).origin, moto.url, new URL(endpoint).origin].sort(),
    );
  } finally {
    await context.close();
  }

  // Read with the API key from Node: joe's trainer is as he made it; hers has the update.
  const read = `query ($id: ID!) { getTrainer(id: $id) { ${FIELDS} } }`;
  assert.deepEqual((await post(server.http, KEY, read, { id: joes.id })).body.data.getTrainer, joes);
  const all = (await post(server.http, KEY, `query { allTrainers(limit: 10) { items { ${FIELDS} } } }`)).body.data
    .allTrainers.items;
  assert.equal(all.length, 2);
  const ada = all.find((t) => t.id !== joes.id);
  assert.deepEqual({ firstName: ada.firstName, age: ada.age, version: ada.version }, { firstName: 'Ada', age: 37, version: 2 });
});
