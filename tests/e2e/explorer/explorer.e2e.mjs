// End to end: the explorer page (GraphiQL, crates/api/assets/explorer.html) in a real browser
// (Debian's Chromium, driven by playwright-core) against a real `trainers serve`. The browser may
// reach the server and nothing else: every other URL is aborted, and none may be asked for.
//
// Run: `bash scripts/e2e-explorer.sh` (installs playwright-core here and Chromium if missing),
// or `node --test tests/e2e/explorer/explorer.e2e.mjs` with TRAINERS_BIN set to a binary built
// with the page. The name does not end in .test.mjs, so `node --test tests/e2e/` (which needs no
// browser) does not pick it up. EXPLORER_SCREENSHOT=PATH saves a screenshot of a query's result.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const binary = process.env.TRAINERS_BIN ?? join(root, 'target', 'debug', 'trainers');
const browserPath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const KEY = 'da2-e2eexplorerkey00000000000';
const PATIENCE_MS = 15_000;

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server;
let origin;
/** The server with accounts (--auth-local) of the token's test. */
let accounts;
/** The servers' origins: the browser may reach these and nothing else. */
const origins = [];
let context;
let profile;
/** Every URL the pages asked for, and those that were refused (not the server's). */
const requested = [];
const refused = [];
/** Every WebSocket the pages opened: its URL and the frames it sent. */
const sockets = [];

/** `trainers serve` on a free loopback port and a fresh data directory, with `extra` flags. */
async function startServer(extra = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'trainers-explorer-'));
  const data = join(dataDir, 'data');
  const child = spawn(
    binary,
    ['serve', '--addr', '127.0.0.1:0', '--api-key', KEY, '--data-dir', data, ...extra],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const lines = createInterface({ input: child.stdout });
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${binary} did not say where it listens`)), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${binary} exited with ${code}`)));
    lines.on('line', (line) => {
      const found = line.match(/^Trainers API listening on http:\/\/(\S+)\/graphql$/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
  });
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  origins.push(`http://${addr}`);
  return { addr, data, stop };
}

/** A GraphQL request over HTTP from the test itself, with the key. */
async function graphql(query, variables = {}) {
  const response = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify({ query, variables }),
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body));
  return body.data;
}

async function create(firstName, lastName, specialty) {
  const data = await graphql(
    `mutation ($f: String!, $l: String!, $s: Specialty) {
       createTrainer(firstName: $f, lastName: $l, age: 36, specialty: $s) { id firstName lastName specialty }
     }`,
    { f: firstName, l: lastName, s: specialty },
  );
  return data.createTrainer;
}

/** Puts an operation in GraphiQL's query editor (CodeMirror 5 keeps its instance on its node). */
async function setQuery(page, query) {
  await page.evaluate((text) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(text);
  }, query);
}

async function editorText(page) {
  return page.evaluate(
    () => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue(),
  );
}

/** The result pane's JSON once it contains `text`. */
async function resultWith(page, text, timeout = PATIENCE_MS) {
  const handle = await page.waitForFunction(
    (wanted) => {
      const value = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue();
      return value?.includes(wanted) ? value : false;
    },
    text,
    { timeout },
  );
  return JSON.parse(await handle.jsonValue());
}

/** Waits for the bar's subscription status to read `text`. */
async function socketStatus(page, text) {
  await page.waitForFunction(
    (wanted) => document.querySelector('#socket-status')?.textContent === wanted,
    text,
  );
}

/**
 * Enters `value` in the bar's `field` (#api-key, #token); resolves with GraphiQL's introspection
 * response that follows, from the server at `at`.
 */
async function enter(page, field, value, at = origin) {
  const introspection = page.waitForResponse(
    (response) =>
      response.url() === `${at}/graphql` &&
      response.request().postDataJSON()?.operationName === 'IntrospectionQuery',
  );
  await page.fill(field, value);
  await page.press(field, 'Enter');
  return introspection;
}

/** Enters the key in the bar; resolves with GraphiQL's introspection response that follows. */
async function enterKey(page, key, at = origin) {
  return enter(page, '#api-key', key, at);
}

/** The page's response to the next operation run whose text matches `pattern`. */
function responseTo(page, pattern, at = origin) {
  return page.waitForResponse(
    (response) =>
      response.url() === `${at}/graphql` &&
      pattern.test(response.request().postDataJSON()?.query ?? ''),
  );
}

async function openPage(at = origin) {
  const page = await context.newPage();
  await page.goto(`${at}/`);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror');
  return page;
}

function assertOnlyTheServerWasAsked() {
  assert.deepEqual(refused, [], 'the page asked for something other than the server');
  assert.ok(requested.length > 0);
  for (const url of requested) assert.ok(url.startsWith(`${origin}/`), url);
  for (const socket of sockets) assert.equal(socket.url, `ws://${server.addr}/graphql`);
}

before(async () => {
  assert.ok(existsSync(binary), `no server binary at ${binary} (set TRAINERS_BIN)`);
  assert.ok(existsSync(browserPath), `no Chromium at ${browserPath} (apt-get install chromium)`);
  server = await startServer();
  origin = `http://${server.addr}`;
  profile = mkdtempSync(join(tmpdir(), 'trainers-explorer-chromium-'));
  // A fresh profile (--user-data-dir), given the way Playwright takes it.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 720 },
  });
  context.setDefaultTimeout(PATIENCE_MS);
  // Offline but for the server: anything else is aborted, and noted.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (origins.some((allowed) => url.startsWith(`${allowed}/`))) return route.continue();
    refused.push(url);
    return route.abort();
  });
  context.on('request', (request) => requested.push(request.url()));
  context.on('page', (page) =>
    page.on('websocket', (ws) => {
      const socket = { url: ws.url(), sent: [] };
      socket.first = ws.waitForEvent('framesent').then((frame) => JSON.parse(frame.payload));
      sockets.push(socket);
      ws.on('framesent', (frame) => socket.sent.push(String(frame.payload)));
    }),
  );
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await server?.stop();
  await accounts?.stop();
});

test('the page runs a query and a subscription with the key entered once, offline but for the server', async (t) => {
  const ada = await create('Ada', 'Lovelace', 'YOUTHFITNESS');
  const grace = await create('Grace', 'Hopper', 'BODYBUILDING');
  const alan = await create('Alan', 'Turing', null);

  const page = await openPage();
  assert.equal(await page.title(), 'Trainers API');
  assert.match(await editorText(page), /allTrainers\(limit: 5\)/);
  // No key yet: the page says so without asking the server.
  assert.deepEqual(await resultWith(page, 'No API key yet'), {
    errors: [{ message: 'No API key yet: enter it in the bar above (it is sent as x-api-key).' }],
  });

  // The key, entered once: GraphiQL fetches the schema with it.
  const introspection = await enterKey(page, KEY);
  assert.equal(introspection.status(), 200);
  assert.equal(introspection.request().headers()['x-api-key'], KEY);
  const schema = await introspection.json();
  assert.equal(schema.errors, undefined);
  assert.equal(schema.data.__schema.subscriptionType.name, 'Subscription');
  assert.equal(await page.evaluate(() => localStorage.getItem('trainers-explorer:api-key')), KEY);

  // The default query, run from the page.
  const answered = page.waitForResponse(
    (response) =>
      response.url() === `${origin}/graphql` &&
      /allTrainers/.test(response.request().postDataJSON()?.query ?? ''),
  );
  await page.click('.graphiql-execute-button');
  assert.equal((await answered).request().headers()['x-api-key'], KEY);
  const shown = await resultWith(page, alan.id);
  assert.deepEqual(shown, { data: { allTrainers: { items: [ada, grace, alan], nextToken: null } } });
  if (process.env.EXPLORER_SCREENSHOT) {
    await page.screenshot({ path: resolve(root, process.env.EXPLORER_SCREENSHOT) });
  }

  // A subscription, run from the page over graphql-transport-ws with the key in connection_init.
  await setQuery(page, 'subscription { onCreateTrainer { id firstName } }');
  await page.click('.graphiql-execute-button');
  await socketStatus(page, 'subscriptions: connected');
  const socket = sockets.at(-1);
  assert.equal(socket.url, `ws://${server.addr}/graphql`);
  assert.deepEqual(await socket.first, {
    type: 'connection_init',
    payload: { 'x-api-key': KEY },
  });
  // The server starts listening once it has read the subscribe message, which the test cannot
  // see from here: a mutation made before that fires nothing, so create until one shows (the
  // first, nearly always). Each wait is for the page's content, not a sleep.
  const created = [];
  let event;
  for (let attempt = 1; !event; attempt += 1) {
    const trainer = await create(`Sub${attempt}`, 'Scriber', 'SENIORFITNESS');
    created.push(trainer);
    try {
      event = await resultWith(page, trainer.id, attempt < 5 ? 2_000 : PATIENCE_MS);
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
  t.diagnostic(`the subscription's event came for mutation ${created.length} of ${created.length}`);
  const last = created.at(-1);
  assert.deepEqual(event, { data: { onCreateTrainer: { id: last.id, firstName: last.firstName } } });
  assert.ok(
    socket.sent.some((frame) => JSON.parse(frame).type === 'subscribe'),
    'the page sent no subscribe message',
  );

  assertOnlyTheServerWasAsked();
  await page.close();
});

test('the key is kept across visits, and a new key is used for HTTP and a new socket', async () => {
  const page = await openPage();
  // Kept in localStorage by the first test: the page uses it without asking again.
  assert.equal(await page.inputValue('#api-key'), KEY);
  await setQuery(page, '{ allTrainers(limit: 1) { items { firstName } } }');
  await page.click('.graphiql-execute-button');
  assert.deepEqual(await resultWith(page, 'Ada'), {
    data: { allTrainers: { items: [{ firstName: 'Ada' }] } },
  });

  // A wrong key: the server refuses HTTP requests (401) and the socket (4403).
  const introspection = await enterKey(page, 'da2-notthekey');
  assert.equal(introspection.status(), 401);
  assert.equal(introspection.request().headers()['x-api-key'], 'da2-notthekey');
  await page.click('.graphiql-execute-button');
  const refusedQuery = await resultWith(page, 'UnauthorizedException');
  assert.equal(refusedQuery.errors[0].errorType, 'UnauthorizedException');

  const before = sockets.length;
  await setQuery(page, 'subscription { onCreateTrainer { id } }');
  await page.click('.graphiql-execute-button');
  await socketStatus(page, 'subscriptions: refused the key (4403 Forbidden): check it');
  assert.equal(sockets.length, before + 1, 'one new socket, not retried with the refused key');
  assert.deepEqual(await sockets.at(-1).first, {
    type: 'connection_init',
    payload: { 'x-api-key': 'da2-notthekey' },
  });
  await resultWith(page, '4403 Forbidden');

  assertOnlyTheServerWasAsked();
  // The net catches: a request elsewhere (TEST-NET-1, never routed) is aborted, and noted.
  const elsewhere = 'http://192.0.2.1/nothing';
  const outcome = await page.evaluate((url) => fetch(url).then(() => 'answered', () => 'failed'), elsewhere);
  assert.equal(outcome, 'failed');
  assert.deepEqual(refused.splice(0), [elsewhere]);
  await page.close();
});

test('a token: a mutation refused without one, made as its user with it, and a subscription with it', async (t) => {
  accounts = await startServer(['--auth-local', '--admin-group', 'Admins']);
  const at = `http://${accounts.addr}`;
  const token = execFileSync(
    binary,
    ['token', 'create', '--data-dir', accounts.data, '--username', 'ana', '--expires-in', '10m'],
    { encoding: 'utf8' },
  ).trim();
  const { sub } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  const CREATE = 'mutation { createTrainer(firstName: "Ana", lastName: "Pages", age: 41) { id owner } }';

  // The key (this origin's storage is new), no token: reads work, mutations are refused.
  const page = await openPage(at);
  assert.equal((await enterKey(page, KEY, at)).status(), 200);
  assert.match(await page.textContent('#token-status'), /^no token/);
  await setQuery(page, CREATE);
  const refusedAnswer = responseTo(page, /createTrainer/, at);
  await page.click('.graphiql-execute-button');
  assert.equal((await refusedAnswer).request().headers().authorization, undefined);
  const refusedResult = await resultWith(page, 'Not Authorized');
  assert.equal(refusedResult.errors[0].errorType, 'Unauthorized');
  assert.equal(
    refusedResult.errors[0].message,
    'Not Authorized to access createTrainer on type Mutation',
  );
  // ...and the bar says what is missing, and how to get it.
  assert.match(
    await page.textContent('#token-hint'),
    /^createTrainer was refused: .*token create --username/,
  );

  // The token entered: GraphiQL asks again with both the key and the token, and says who is in.
  const introspection = await enter(page, '#token', `Bearer ${token}`, at);
  assert.equal(introspection.status(), 200);
  assert.equal(introspection.request().headers().authorization, token);
  assert.equal(introspection.request().headers()['x-api-key'], KEY);
  assert.match(await page.textContent('#token-status'), /^signed in as ana, until /);
  assert.equal(await page.$('#token-hint'), null);

  const madeAnswer = responseTo(page, /createTrainer/, at);
  await page.click('.graphiql-execute-button');
  assert.equal((await madeAnswer).request().headers().authorization, token);
  const made = await resultWith(page, '"owner"');
  assert.equal(made.errors, undefined, JSON.stringify(made));
  assert.equal(made.data.createTrainer.owner, `${sub}::ana`);

  // A subscription opened now carries the token in connection_init, and hears ana's next trainer.
  await setQuery(page, 'subscription { onCreateTrainer { id firstName owner } }');
  await page.click('.graphiql-execute-button');
  await socketStatus(page, 'subscriptions: connected');
  const socket = sockets.at(-1);
  assert.equal(socket.url, `ws://${accounts.addr}/graphql`);
  assert.deepEqual(await socket.first, {
    type: 'connection_init',
    payload: { 'x-api-key': KEY, Authorization: token },
  });
  // As in the first test: create (as ana, over HTTP from here) until the event shows; the
  // mutation selects what the subscription asks for, or AppSync's rule leaves it null.
  let event;
  let last;
  for (let attempt = 1; !event; attempt += 1) {
    const response = await fetch(`${at}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: JSON.stringify({
        query: `mutation ($f: String!) {
          createTrainer(firstName: $f, lastName: "Pages", age: 41) { id firstName owner }
        }`,
        variables: { f: `Ana${attempt}` },
      }),
    });
    const body = await response.json();
    assert.equal(body.errors, undefined, JSON.stringify(body));
    last = body.data.createTrainer;
    try {
      event = await resultWith(page, last.id, attempt < 5 ? 2_000 : PATIENCE_MS);
    } catch (error) {
      if (attempt >= 5) throw error;
    }
    if (event) t.diagnostic(`the subscription's event came for mutation ${attempt}`);
  }
  assert.equal(last.owner, `${sub}::ana`);
  assert.deepEqual(event, { data: { onCreateTrainer: last } });

  // The token is the user's secret: kept in this tab's sessionStorage, never in a URL nor in
  // localStorage (GraphiQL's included).
  assert.equal(await page.evaluate(() => sessionStorage.getItem('trainers-explorer:token')), token);
  const local = await page.evaluate(() =>
    Object.keys(localStorage).map((name) => `${name}=${localStorage.getItem(name)}`),
  );
  assert.ok(local.some((entry) => entry === `trainers-explorer:api-key=${KEY}`), 'the key is kept');
  for (const entry of local) {
    assert.ok(!entry.includes(token), `the token is in localStorage: ${entry.split('=')[0]}`);
  }
  assert.ok(!page.url().includes(token));
  for (const url of requested) assert.ok(!url.includes(token), 'the token was in a URL');
  assert.ok(!socket.url.includes(token));
  assert.deepEqual(refused, [], 'the page asked for something other than the servers');
  await page.close();
});
