// End to end with a real GraphQL over WebSocket client: npm's graphql-ws (with ws), against a
// real `trainers serve`, at ws://ADDR/graphql with the subprotocol graphql-transport-ws and the
// API key in connection_init's payload. Mutations go over HTTP.
//
// Run: `node --test tests/e2e/` after `cargo build -p trainers-cli` (or set TRAINERS_BIN) and
// `bash scripts/setup-tools.sh` (the packages come from tools/node_modules).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const requireTool = createRequire(join(root, 'tools', 'package.json'));
const { createClient } = requireTool('graphql-ws');
const WebSocket = requireTool('ws');

const binary = process.env.TRAINERS_BIN ?? join(root, 'target', 'debug', 'trainers');
const KEY = 'da2-e2etestkeyforgraphqlws000';
const FIELDS = 'id firstName lastName age specialty createdAt updatedAt version';
const PATIENCE_MS = 10_000;

let server;

/** `trainers serve` on a free loopback port and a fresh data directory. */
async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'trainers-e2e-'));
  const child = spawn(
    binary,
    ['serve', '--addr', '127.0.0.1:0', '--api-key', KEY, '--data-dir', join(dataDir, 'data')],
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
  return { addr, stop };
}

async function graphql(query, variables = {}) {
  const response = await fetch(`http://${server.addr}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify({ query, variables }),
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body));
  return body.data;
}

async function create(firstName, specialty, selection = FIELDS) {
  const data = await graphql(
    `mutation ($f: String!, $s: Specialty) {
       createTrainer(firstName: $f, lastName: "Lovelace", age: 36, specialty: $s) { ${selection} }
     }`,
    { f: firstName, s: specialty },
  );
  return data.createTrainer;
}

async function setAge(id, age) {
  const data = await graphql(
    `mutation ($id: ID!, $age: Int) { updateTrainers(id: $id, age: $age) { ${FIELDS} } }`,
    { id, age },
  );
  return data.updateTrainers;
}

function connect(key = KEY) {
  return createClient({
    url: `ws://${server.addr}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { 'x-api-key': key },
    retryAttempts: 0,
    lazy: true,
  });
}

/** The next result of an iterator, or a failure after a while. */
async function next(iterator) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('no event came')), PATIENCE_MS);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Subscribes, and returns once the server listens. The server handles one connection's
 * messages in order, so when a query sent after the subscription is answered, it listens.
 */
async function subscribe(client, query, variables = {}) {
  const events = client.iterate({ query, variables });
  const barrier = client.iterate({ query: '{ __typename }' });
  const answer = await next(barrier);
  assert.deepEqual(answer.value, { data: { __typename: 'Query' } });
  return events;
}

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

test('a subscriber gets the created trainer as the mutation selected it', async () => {
  const client = connect();
  try {
    const events = await subscribe(client, `subscription { onCreateTrainer { ${FIELDS} } }`);
    const created = await create('Ada', 'YOUTHFITNESS');
    const event = await next(events);
    assert.deepEqual(event.value, { data: { onCreateTrainer: created } });
    await events.return();
  } finally {
    await client.dispose();
  }
});

test('arguments filter events', async () => {
  const target = await create('Target', 'BODYBUILDING');
  const other = await create('Other', 'BODYBUILDING');
  const client = connect();
  try {
    const seniors = await subscribe(
      client,
      'subscription ($s: Specialty) { onCreateTrainer(specialty: $s) { id firstName specialty } }',
      { s: 'SENIORFITNESS' },
    );
    const updates = await subscribe(
      client,
      'subscription ($id: ID) { onUpdateTrainer(id: $id) { id age } }',
      { id: target.id },
    );

    await create('Bob', 'BODYBUILDING');
    const sue = await create('Sue', 'SENIORFITNESS');
    const senior = await next(seniors);
    assert.deepEqual(senior.value.data.onCreateTrainer, {
      id: sue.id,
      firstName: 'Sue',
      specialty: 'SENIORFITNESS',
    });

    await setAge(other.id, 18);
    await setAge(target.id, 17);
    const update = await next(updates);
    assert.deepEqual(update.value.data.onUpdateTrainer, { id: target.id, age: 17 });
  } finally {
    await client.dispose();
  }
});

test('an unselected field is null, an unselected non-null field an error', async () => {
  const client = connect();
  try {
    const nullable = await subscribe(client, 'subscription { onCreateTrainer { id specialty } }');
    const nonNull = await subscribe(client, 'subscription { onCreateTrainer { id lastName } }');
    const created = await create('Ada', 'YOUTHFITNESS', 'id firstName');

    const fine = await next(nullable);
    assert.deepEqual(fine.value, { data: { onCreateTrainer: { id: created.id, specialty: null } } });

    const failed = await next(nonNull);
    assert.deepEqual(failed.value.data, { onCreateTrainer: null });
    assert.equal(failed.value.errors.length, 1);
    assert.deepEqual(failed.value.errors[0].path, ['onCreateTrainer', 'lastName']);
    assert.match(failed.value.errors[0].message, /lastName/);
  } finally {
    await client.dispose();
  }
});

test('a bad key is refused with 4403 Forbidden', async () => {
  const client = connect('da2-notakey');
  const closed = new Promise((resolve) => client.on('closed', resolve));
  try {
    const events = client.iterate({ query: 'subscription { onCreateTrainer { id } }' });
    await assert.rejects(next(events), (event) => {
      assert.equal(event.code, 4403);
      assert.equal(event.reason, 'Forbidden');
      return true;
    });
    const event = await closed;
    assert.equal(event.code, 4403);
  } finally {
    await client.dispose();
  }
});
