// End to end with Apollo Client (@apollo/client) and AWS's links for it, aws-appsync-auth-link
// (createAuthLink) and aws-appsync-subscription-link (createSubscriptionHandshakeLink), API_KEY
// auth, in Node, unchanged, against a real `trainers serve` with TLS on its port. The
// subscription link derives the real-time URL itself: https://ADDR/graphql →
// wss://ADDR/graphql/realtime (and http → ws).
//
// Run: bash scripts/e2e-clients.sh (it makes the certificate, and starts node trusting it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from '@apollo/client';
import { AUTH_TYPE, createAuthLink } from 'aws-appsync-auth-link';
import { CONTROL_EVENTS_KEY, createSubscriptionHandshakeLink } from 'aws-appsync-subscription-link';
import { tap } from 'rxjs';
import WebSocket from 'ws';
import {
  EventQueue,
  FIELDS,
  assertNodeTrustsLocalCa,
  post,
  startServer,
  within,
} from '../lib/trainers.mjs';

const KEY = 'da2-e2eapollonodekey000000000';
const BAD_KEY = 'da2-notakeyofthisserver000000';

// Node 20 has no WebSocket; the subscription link uses the global one. This subclass only
// records the URL and subprotocols the link opens, to check the URL it derives.
const opened = [];
globalThis.WebSocket = class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    opened.push({ url: String(url), protocols });
    super(url, protocols);
  }
};

let server;
let client;

/**
 * An Apollo client as AWS documents it for AppSync: the auth link, then the subscription
 * handshake link in front of an HttpLink. `acks` gets the subscription link's "CONNECTED"
 * control result (sent on start_ack, when asked for with CONTROL_EVENTS_KEY), which Apollo
 * Client itself does not pass on to the subscriber.
 */
function makeClient(url, apiKey, acks) {
  const auth = { type: AUTH_TYPE.API_KEY, apiKey };
  const region = 'us-east-1';
  const watchAcks = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap((result) => {
        if (result?.extensions?.controlMsgType === 'CONNECTED') acks?.push(operation.variables);
      }),
    ),
  );
  const link = ApolloLink.from([
    createAuthLink({ url, region, auth }),
    watchAcks,
    createSubscriptionHandshakeLink({ url, region, auth }, new HttpLink({ uri: url })),
  ]);
  return new ApolloClient({
    link,
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'network-only' } },
  });
}

const acks = new EventQueue();

before(async () => {
  assertNodeTrustsLocalCa();
  server = await startServer({ keys: [KEY] });
  client = makeClient(server.https, KEY, acks);
});

after(async () => {
  client?.stop();
  await server?.stop();
});

const CREATE = gql`mutation Create($firstName: String!, $lastName: String!, $age: Int!, $specialty: Specialty) {
  createTrainer(firstName: $firstName, lastName: $lastName, age: $age, specialty: $specialty) { ${FIELDS} }
}`;
const GET = gql`query Get($id: ID!) { getTrainer(id: $id) { ${FIELDS} } }`;
const UPDATE = gql`mutation Update($id: ID!, $age: Int, $expectedVersion: Int) {
  updateTrainers(id: $id, age: $age, expectedVersion: $expectedVersion) { ${FIELDS} }
}`;
const DELETE = gql`mutation Delete($id: ID!) { deleteTrainer(id: $id) { ${FIELDS} } }`;
const ALL = gql`query All($limit: Int, $nextToken: String, $specialty: Specialty) {
  allTrainers(limit: $limit, nextToken: $nextToken, specialty: $specialty) { items { ${FIELDS} } nextToken }
}`;

/** A trainer as the API answers it: without the __typename that Apollo adds to selections. */
function plain({ __typename, ...fields }) {
  assert.equal(__typename, 'Trainers');
  return fields;
}

async function create(firstName, specialty = 'BODYBUILDING', age = 30, on = client) {
  const { data } = await on.mutate({
    mutation: CREATE,
    variables: { firstName, lastName: 'Apollo', age, specialty },
  });
  return plain(data.createTrainer);
}

/** The GraphQL errors of a rejected Apollo call. */
async function graphqlErrorsOf(call) {
  const thrown = await call.then(
    (result) => assert.fail(`Apollo did not throw: ${JSON.stringify(result)}`),
    (error) => error,
  );
  assert.ok(CombinedGraphQLErrors.is(thrown), `not GraphQL errors: ${thrown}`);
  return thrown.errors;
}

/** Subscribes through Apollo; resolves once the server acknowledged the start. */
async function subscribe(query, variables = {}, on = client, onAcks = acks) {
  const events = new EventQueue();
  // The link's documented way to tell when the server listens: ask for its control messages.
  const context = { controlMessages: { [CONTROL_EVENTS_KEY]: true } };
  const subscription = on.subscribe({ query: gql(query), variables, context }).subscribe({
    next: (result) => events.push(result),
    error: (error) => events.push({ error }),
  });
  const ack = await within(10_000, onAcks.next(), `start_ack for ${query}`);
  assert.deepEqual(ack, variables);
  return { events, subscription };
}

test('createTrainer, getTrainer, updateTrainers and deleteTrainer through Apollo over https', async () => {
  const created = await create('Ada', 'YOUTHFITNESS', 36);
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.firstName, 'Ada');
  assert.equal(created.specialty, 'YOUTHFITNESS');
  assert.equal(created.version, 1);

  const got = await client.query({ query: GET, variables: { id: created.id } });
  assert.deepEqual(plain(got.data.getTrainer), created);

  const updated = await client.mutate({
    mutation: UPDATE,
    variables: { id: created.id, age: 37, expectedVersion: 1 },
  });
  assert.equal(updated.data.updateTrainers.age, 37);
  assert.equal(updated.data.updateTrainers.version, 2);

  const deleted = await client.mutate({ mutation: DELETE, variables: { id: created.id } });
  assert.equal(deleted.data.deleteTrainer.id, created.id);

  const gone = await client.query({ query: GET, variables: { id: created.id } });
  assert.equal(gone.data.getTrainer, null);
});

test('allTrainers pages through Apollo, following nextToken to the end', async () => {
  const made = [];
  for (let i = 0; i < 7; i += 1) {
    made.push(await create(`Page${i}`, i % 2 === 0 ? 'SENIORFITNESS' : 'CORRECTIVEEXERCISE'));
  }
  // The store as one big page, over plain HTTP without Apollo, to compare with.
  const big = await post(server.http, KEY, 'query { allTrainers(limit: 100) { items { id } nextToken } }');
  assert.equal(big.body.data.allTrainers.nextToken, null);
  const everyone = big.body.data.allTrainers.items.map((t) => t.id);
  assert.ok(made.every((t) => everyone.includes(t.id)));

  async function walk(variables) {
    const seen = [];
    let nextToken = null;
    let pages = 0;
    do {
      const { data } = await client.query({ query: ALL, variables: { ...variables, nextToken } });
      const page = data.allTrainers;
      assert.ok(page.items.length <= variables.limit, `a page of ${page.items.length}`);
      seen.push(...page.items.map(plain));
      nextToken = page.nextToken;
      pages += 1;
      assert.ok(pages <= 100, 'nextToken never ended');
    } while (nextToken);
    return { seen, pages };
  }

  const all = await walk({ limit: 3 });
  assert.deepEqual(all.seen.map((t) => t.id), everyone, 'every trainer once, in the order of one big page');
  assert.equal(all.pages, Math.ceil(everyone.length / 3), 'no empty last page');

  const seniors = await walk({ limit: 2, specialty: 'SENIORFITNESS' });
  assert.ok(seniors.seen.every((t) => t.specialty === 'SENIORFITNESS'));
  for (const t of made.filter((m) => m.specialty === 'SENIORFITNESS')) {
    assert.ok(seniors.seen.some((s) => s.id === t.id), `${t.firstName} missing from the filtered pages`);
  }
  assert.equal(new Set(seniors.seen.map((t) => t.id)).size, seniors.seen.length, 'no trainer twice');
});

test('NotFound comes as errorType in the CombinedGraphQLErrors Apollo throws', async () => {
  const id = '0190f2a4-5b6c-7d8e-9f00-112233445566';
  const update = await graphqlErrorsOf(client.mutate({ mutation: UPDATE, variables: { id, age: 31 } }));
  assert.equal(update.length, 1);
  assert.equal(update[0].errorType, 'NotFound');
  assert.match(update[0].message, new RegExp(id));
  assert.deepEqual(update[0].path, ['updateTrainers']);

  const del = await graphqlErrorsOf(client.mutate({ mutation: DELETE, variables: { id } }));
  assert.equal(del[0].errorType, 'NotFound');
});

test('ValidationError comes as errorType in the CombinedGraphQLErrors Apollo throws', async () => {
  const tooYoung = await graphqlErrorsOf(
    client.mutate({ mutation: CREATE, variables: { firstName: 'Kid', lastName: 'Apollo', age: 15 } }),
  );
  assert.equal(tooYoung[0].errorType, 'ValidationError');
  assert.match(tooYoung[0].message, /age/);

  const badToken = await graphqlErrorsOf(
    client.query({ query: ALL, variables: { limit: 2, nextToken: 'not-a-token' } }),
  );
  assert.equal(badToken[0].errorType, 'ValidationError');
  assert.match(badToken[0].message, /nextToken/);
});

test('a bad key: Apollo throws a ServerError 401 with UnauthorizedException', async () => {
  const stranger = makeClient(server.https, BAD_KEY);
  try {
    const thrown = await stranger.query({ query: GET, variables: { id: 'x' } }).then(
      () => assert.fail('a bad key was let in'),
      (error) => error,
    );
    assert.ok(ServerError.is(thrown), `not a ServerError: ${thrown}`);
    assert.equal(thrown.statusCode, 401);
    assert.equal(thrown.response.headers.get('x-amzn-errortype'), 'UnauthorizedException');
    assert.equal(JSON.parse(thrown.bodyText).errors[0].errorType, 'UnauthorizedException');
  } finally {
    stranger.stop();
  }
});

test('onCreateTrainer: the link subscribes on wss://ADDR/graphql/realtime, derived by itself', async () => {
  const before = opened.length;
  const sub = await subscribe(`subscription { onCreateTrainer { ${FIELDS} } }`);
  try {
    const sockets = opened.slice(before);
    assert.equal(sockets.length, 1, 'one WebSocket opened');
    assert.equal(sockets[0].url, `wss://${server.addr}/graphql/realtime`);
    assert.equal(sockets[0].protocols[0], 'graphql-ws');
    const header = JSON.parse(Buffer.from(sockets[0].protocols[1].slice('header-'.length), 'base64url'));
    assert.equal(header.host, server.addr);
    assert.equal(header['x-api-key'], KEY);

    // Made without Apollo, so without the __typename that Apollo's subscription asks for:
    // the subscriber still gets it.
    const made = await post(
      server.http,
      KEY,
      `mutation { createTrainer(firstName: "Grace", lastName: "Hopper", age: 45, specialty: BODYBUILDING) { ${FIELDS} } }`,
    );
    const created = made.body.data.createTrainer;
    const event = await sub.events.next();
    assert.equal(event.error, undefined, String(event.error));
    assert.deepEqual(event.data.onCreateTrainer, { __typename: 'Trainers', ...created });
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
    assert.deepEqual(plain(event.data.onCreateTrainer), { id: sue.id, firstName: 'Sue', specialty: 'SENIORFITNESS' });
  } finally {
    sub.subscription.unsubscribe();
  }
});

test('onUpdateTrainer(id:) gets only that trainer', async () => {
  const target = await create('Target');
  const other = await create('Other');
  const sub = await subscribe('subscription OnUpdate($id: ID) { onUpdateTrainer(id: $id) { id age version } }', {
    id: target.id,
  });
  try {
    await client.mutate({ mutation: UPDATE, variables: { id: other.id, age: 18 } });
    await client.mutate({ mutation: UPDATE, variables: { id: target.id, age: 17 } });
    const event = await sub.events.next();
    assert.deepEqual(plain(event.data.onUpdateTrainer), { id: target.id, age: 17, version: 2 });
  } finally {
    sub.subscription.unsubscribe();
  }
});

test('over plain http the link subscribes on ws://ADDR/graphql/realtime', async () => {
  const plainAcks = new EventQueue();
  const overHttp = makeClient(server.http, KEY, plainAcks);
  const before = opened.length;
  const sub = await subscribe('subscription { onCreateTrainer { id firstName } }', {}, overHttp, plainAcks);
  try {
    assert.equal(opened[before].url, `ws://${server.addr}/graphql/realtime`);
    const created = await create('Linus', 'BODYBUILDING', 30, overHttp);
    const event = await sub.events.next();
    assert.deepEqual(plain(event.data.onCreateTrainer), { id: created.id, firstName: 'Linus' });
  } finally {
    sub.subscription.unsubscribe();
    overHttp.stop();
  }
});

test('a subscription with a bad key fails at once (connection_error with errorCode 401)', async () => {
  const stranger = makeClient(server.https, BAD_KEY);
  const before = opened.length;
  const started = performance.now();
  try {
    const failed = new Promise((resolvePromise) => {
      stranger.subscribe({ query: gql`subscription { onCreateTrainer { id } }` }).subscribe({
        next: (result) => resolvePromise(result),
        error: (error) => resolvePromise({ error }),
      });
    });
    const result = await within(5_000, failed, 'the error of a refused subscription');
    const elapsed = performance.now() - started;
    assert.equal(result.data, undefined);
    // The link errors with AppSync's shape ({errors: [...]}, not an Error), which Apollo
    // Client wraps in an UnconventionalError; the link's own error is its cause.
    assert.ok(result.error, 'an error');
    assert.match(result.error.cause?.errors?.[0]?.message ?? '', /^Connection failed: UnauthorizedException/);
    assert.equal(opened.length - before, 1, 'the link gave up without retrying');
    assert.equal(opened[before].url, `wss://${server.addr}/graphql/realtime`);
    assert.ok(elapsed < 1_000, `took ${elapsed.toFixed(0)} ms`);
  } finally {
    stranger.stop();
  }
});
