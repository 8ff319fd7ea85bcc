// End to end with AWS Amplify JS v6 in Node (aws-amplify, pinned in package.json), unchanged,
// against a real `trainers serve` with TLS on its port: Amplify.configure with the endpoint and an
// API key, generateClient from aws-amplify/api, and subscriptions on the real-time URL Amplify
// derives itself (https://ADDR/graphql → wss://ADDR/graphql/realtime).
//
// Run: bash scripts/e2e-clients.sh (it makes the certificate, and starts node trusting it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { Hub } from 'aws-amplify/utils';
import WebSocket from 'ws';
import {
  EventQueue,
  FIELDS,
  assertNodeTrustsLocalCa,
  post,
  startServer,
  within,
} from '../lib/trainers.mjs';

const KEY = 'da2-e2eamplifynodekey00000000';

// Node 20 has no WebSocket: Amplify's documented fix is ws. This subclass only records the URL
// and subprotocols Amplify opens, to check the URL it derives; it changes nothing.
const opened = [];
globalThis.WebSocket = class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    opened.push({ url: String(url), protocols });
    super(url, protocols);
  }
};

let server;
let client;

// Subscription acknowledgements (start_ack) as Amplify announces them on its Hub.
const acks = new EventQueue();
Hub.listen('api', ({ payload }) => {
  if (payload.event === 'Subscription ack') acks.push(payload.data);
});

before(async () => {
  assertNodeTrustsLocalCa();
  server = await startServer({ keys: [KEY] });
  Amplify.configure({
    API: {
      GraphQL: {
        endpoint: server.https,
        region: 'us-east-1',
        defaultAuthMode: 'apiKey',
        apiKey: KEY,
      },
    },
  });
  client = generateClient();
});

after(async () => {
  await server?.stop();
});

const CREATE = `mutation Create($firstName: String!, $lastName: String!, $age: Int!, $specialty: Specialty) {
  createTrainer(firstName: $firstName, lastName: $lastName, age: $age, specialty: $specialty) { ${FIELDS} }
}`;
const GET = `query Get($id: ID!) { getTrainer(id: $id) { ${FIELDS} } }`;
const UPDATE = `mutation Update($id: ID!, $age: Int, $specialty: Specialty, $expectedVersion: Int) {
  updateTrainers(id: $id, age: $age, specialty: $specialty, expectedVersion: $expectedVersion) { ${FIELDS} }
}`;
const DELETE = `mutation Delete($id: ID!) { deleteTrainer(id: $id) { ${FIELDS} } }`;
const ALL = `query All($limit: Int, $nextToken: String, $specialty: Specialty) {
  allTrainers(limit: $limit, nextToken: $nextToken, specialty: $specialty) { items { ${FIELDS} } nextToken }
}`;

async function create(firstName, specialty = 'BODYBUILDING', age = 30) {
  const { data } = await client.graphql({
    query: CREATE,
    variables: { firstName, lastName: 'Amplify', age, specialty },
  });
  return data.createTrainer;
}

/** The GraphQL errors of a rejected Amplify call (Amplify throws the whole result). */
async function errorsOf(call) {
  try {
    await call;
  } catch (thrown) {
    assert.ok(Array.isArray(thrown.errors), `not a GraphQL result: ${thrown}`);
    return thrown.errors;
  }
  assert.fail('Amplify did not throw');
}

/**
 * Subscribes through Amplify; resolves once the server acknowledged the start (Amplify's Hub
 * says "Subscription ack"), so that a mutation made next is seen.
 */
async function subscribe(query, variables = {}, on = client) {
  const events = new EventQueue();
  const errors = new EventQueue();
  const subscription = on.graphql({ query, variables }).subscribe({
    next: (event) => events.push(event),
    error: (error) => errors.push(error),
  });
  const ack = await within(10_000, acks.next(), `start_ack for ${query}`);
  assert.deepEqual(ack.variables, variables);
  return { events, errors, subscription };
}

test('createTrainer, getTrainer, updateTrainers and deleteTrainer through Amplify over https', async () => {
  const created = await create('Ada', 'YOUTHFITNESS', 36);
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.firstName, 'Ada');
  assert.equal(created.age, 36);
  assert.equal(created.specialty, 'YOUTHFITNESS');
  assert.equal(created.version, 1);

  const got = await client.graphql({ query: GET, variables: { id: created.id } });
  assert.deepEqual(got.data.getTrainer, created);

  const updated = await client.graphql({
    query: UPDATE,
    variables: { id: created.id, age: 37, expectedVersion: 1 },
  });
  assert.equal(updated.data.updateTrainers.age, 37);
  assert.equal(updated.data.updateTrainers.version, 2);
  assert.equal(updated.data.updateTrainers.firstName, 'Ada');

  const deleted = await client.graphql({ query: DELETE, variables: { id: created.id } });
  assert.equal(deleted.data.deleteTrainer.id, created.id);
  assert.equal(deleted.data.deleteTrainer.age, 37);

  const gone = await client.graphql({ query: GET, variables: { id: created.id } });
  assert.equal(gone.data.getTrainer, null);
});

test('allTrainers pages through Amplify, following nextToken to the end', async () => {
  const made = [];
  for (let i = 0; i < 7; i += 1) {
    made.push(await create(`Page${i}`, i % 2 === 0 ? 'SENIORFITNESS' : 'CORRECTIVEEXERCISE'));
  }
  // The store as one big page, over plain HTTP without Amplify, to compare with.
  const big = await post(server.http, KEY, 'query { allTrainers(limit: 100) { items { id } nextToken } }');
  assert.equal(big.body.data.allTrainers.nextToken, null);
  const everyone = big.body.data.allTrainers.items.map((t) => t.id);
  assert.ok(made.every((t) => everyone.includes(t.id)));

  async function walk(variables) {
    const seen = [];
    let nextToken = null;
    let pages = 0;
    do {
      const { data } = await client.graphql({ query: ALL, variables: { ...variables, nextToken } });
      const page = data.allTrainers;
      assert.ok(page.items.length <= variables.limit, `a page of ${page.items.length}`);
      seen.push(...page.items);
      nextToken = page.nextToken;
      pages += 1;
      assert.ok(pages <= 100, 'nextToken never ended');
    } while (nextToken);
    return { seen, pages };
  }

  const all = await walk({ limit: 3 });
  assert.deepEqual(
    all.seen.map((t) => t.id),
    everyone,
    'every trainer once, in the order of one big page',
  );
  // nextToken is null exactly when nothing follows: no empty last page.
  assert.equal(all.pages, Math.ceil(everyone.length / 3));

  const seniors = await walk({ limit: 2, specialty: 'SENIORFITNESS' });
  assert.ok(seniors.seen.every((t) => t.specialty === 'SENIORFITNESS'));
  for (const t of made.filter((m) => m.specialty === 'SENIORFITNESS')) {
    assert.ok(seniors.seen.some((s) => s.id === t.id), `${t.firstName} missing from the filtered pages`);
  }
  assert.equal(new Set(seniors.seen.map((t) => t.id)).size, seniors.seen.length, 'no trainer twice');
});

test('NotFound comes as errorType on the errors Amplify throws', async () => {
  const id = '0190f2a4-5b6c-7d8e-9f00-112233445566';
  const update = await errorsOf(client.graphql({ query: UPDATE, variables: { id, age: 31 } }));
  assert.equal(update.length, 1);
  assert.equal(update[0].errorType, 'NotFound');
  assert.match(update[0].message, new RegExp(id));
  assert.deepEqual(update[0].path, ['updateTrainers']);

  const del = await errorsOf(client.graphql({ query: DELETE, variables: { id } }));
  assert.equal(del[0].errorType, 'NotFound');
});

test('ValidationError comes as errorType on the errors Amplify throws', async () => {
  const tooYoung = await errorsOf(
    client.graphql({
      query: CREATE,
      variables: { firstName: 'Kid', lastName: 'Amplify', age: 15, specialty: null },
    }),
  );
  assert.equal(tooYoung[0].errorType, 'ValidationError');
  assert.match(tooYoung[0].message, /age/);

  const badToken = await errorsOf(
    client.graphql({ query: ALL, variables: { limit: 2, nextToken: 'not-a-token' } }),
  );
  assert.equal(badToken[0].errorType, 'ValidationError');
  assert.match(badToken[0].message, /nextToken/);
});

test('a bad key: Amplify reports Unauthorized, from the x-amzn-ErrorType header', async () => {
  const stranger = generateClient({ authMode: 'apiKey', apiKey: 'da2-notakeyofthisserver000000' });
  const errors = await errorsOf(stranger.graphql({ query: GET, variables: { id: 'x' } }));
  assert.equal(errors.length, 1);
  // Amplify reads the error's name from x-amzn-ErrorType, and, for UnauthorizedException,
  // replaces the message with 'Unauthorized' and adds a recovery suggestion.
  assert.equal(errors[0].originalError?.name, 'UnauthorizedException');
  assert.equal(errors[0].message, 'Unauthorized');
  assert.match(errors[0].recoverySuggestion ?? '', /authMode/);
});

test('onCreateTrainer: Amplify subscribes on wss://ADDR/graphql/realtime, derived by itself', async () => {
  const before = opened.length;
  const sub = await subscribe(`subscription { onCreateTrainer { ${FIELDS} } }`);
  try {
    const sockets = opened.slice(before);
    assert.equal(sockets.length, 1, 'one WebSocket opened');
    assert.equal(sockets[0].url, `wss://${server.addr}/graphql/realtime`);
    assert.equal(sockets[0].protocols[0], 'graphql-ws');
    assert.match(sockets[0].protocols[1], /^header-/);
    const header = JSON.parse(Buffer.from(sockets[0].protocols[1].slice(7), 'base64url'));
    assert.equal(header.host, server.addr);
    assert.equal(header['x-api-key'], KEY);

    const created = await create('Grace', 'BODYBUILDING', 45);
    const event = await sub.events.next();
    assert.deepEqual(event.data.onCreateTrainer, created);
  } finally {
    sub.subscription.unsubscribe();
  }
});

test('onCreateTrainer(specialty:) gets only that specialty', async () => {
  const sub = await subscribe(
    'subscription OnSenior($specialty: Specialty) { onCreateTrainer(specialty: $specialty) { id firstName specialty } }',
    { specialty: 'SENIORFITNESS' },
  );
  try {
    await create('Bob', 'BODYBUILDING');
    const sue = await create('Sue', 'SENIORFITNESS');
    const event = await sub.events.next();
    assert.deepEqual(event.data.onCreateTrainer, { id: sue.id, firstName: 'Sue', specialty: 'SENIORFITNESS' });
  } finally {
    sub.subscription.unsubscribe();
  }
});

test('Amplify-shaped filters: a filtered subscription, exact filtered pages, a condition that fails', async () => {
  const sub = await subscribe(
    `subscription OnOld($filter: ModelSubscriptionTrainersFilterInput) {
      onCreateTrainer(filter: $filter) { id firstName age }
    }`,
    { filter: { age: { ge: 90 }, firstName: { beginsWith: 'Old' } } },
  );
  let old;
  try {
    await create('Young', 'BODYBUILDING', 30);
    await create('Oldish', 'BODYBUILDING', 80);
    old = await create('Olde', 'BODYBUILDING', 95);
    const event = await sub.events.next();
    assert.deepEqual(event.data.onCreateTrainer, { id: old.id, firstName: 'Olde', age: 95 });
  } finally {
    sub.subscription.unsubscribe();
  }

  const page = await client.graphql({
    query: `query Old($filter: ModelTrainersFilterInput) {
      allTrainers(filter: $filter, limit: 1) { items { id } nextToken }
    }`,
    variables: { filter: { age: { ge: 90 }, firstName: { beginsWith: 'Old' } } },
  });
  assert.deepEqual(page.data.allTrainers, { items: [{ id: old.id }], nextToken: null });

  const errors = await errorsOf(
    client.graphql({
      query: `mutation Older($id: ID!, $condition: ModelTrainersConditionInput) {
        updateTrainers(id: $id, age: 96, condition: $condition) { id }
      }`,
      variables: { id: old.id, condition: { age: { lt: 90 } } },
    }),
  );
  assert.equal(errors[0].errorType, 'ConditionalCheckFailedException');
  const still = await client.graphql({ query: GET, variables: { id: old.id } });
  assert.equal(still.data.getTrainer.age, 95);
});

test('onUpdateTrainer(id:) gets only that trainer', async () => {
  const target = await create('Target');
  const other = await create('Other');
  const sub = await subscribe('subscription OnUpdate($id: ID) { onUpdateTrainer(id: $id) { id age version } }', {
    id: target.id,
  });
  try {
    await client.graphql({ query: UPDATE, variables: { id: other.id, age: 18 } });
    await client.graphql({ query: UPDATE, variables: { id: target.id, age: 17 } });
    const event = await sub.events.next();
    assert.deepEqual(event.data.onUpdateTrainer, { id: target.id, age: 17, version: 2 });
  } finally {
    sub.subscription.unsubscribe();
  }
});

test('a subscription with a bad key fails at once with UnauthorizedException', async () => {
  // Its own endpoint spelling (localhost, also on the certificate), so Amplify opens a new
  // connection with this key rather than reusing the one above.
  const endpoint = `https://localhost:${server.port}/graphql`;
  const stranger = generateClient({ endpoint, authMode: 'apiKey', apiKey: 'da2-notakeyofthisserver000000' });
  const before = opened.length;
  const started = performance.now();
  const failed = new Promise((resolvePromise, reject) => {
    stranger.graphql({ query: 'subscription { onCreateTrainer { id } }' }).subscribe({
      next: (event) => reject(new Error(`an event with a bad key: ${JSON.stringify(event)}`)),
      error: resolvePromise,
    });
  });
  const error = await within(5_000, failed, 'the error of a refused subscription');
  const elapsed = performance.now() - started;
  assert.equal(opened[before].url, `wss://localhost:${server.port}/graphql/realtime`);
  assert.equal(opened.length - before, 1, 'Amplify gave up without retrying');
  assert.match(error.errors[0].message, /^Connection failed: UnauthorizedException/);
  assert.ok(elapsed < 1_000, `took ${elapsed.toFixed(0)} ms`);
});
