// Accounts end to end with Apollo Client and AWS's links for it, signed in: aws-appsync-auth-link
// (createAuthLink) and aws-appsync-subscription-link (createSubscriptionHandshakeLink) with
// `auth: { type: AMAZON_COGNITO_USER_POOLS, jwtToken }`, unchanged, against `trainers serve
// --auth-issuer … --auth-jwks-url …` over https and wss. The tokens come from moto's Cognito
// (tests/e2e/lib/cognito.mjs): InitiateAuth USER_PASSWORD_AUTH with plain fetch, as an app
// that signs in without Amplify would. jwtToken is given both ways the links take it: an async
// function (jane) and the token itself (joe).
//
// Run: bash scripts/e2e-clients.sh (it makes the certificate, and starts node trusting it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { AUTH_TYPE, createAuthLink } from 'aws-appsync-auth-link';
import { CONTROL_EVENTS_KEY, createSubscriptionHandshakeLink } from 'aws-appsync-subscription-link';
import { tap } from 'rxjs';
import WebSocket from 'ws';
import { EventQueue, assertNodeTrustsLocalCa, post, startServer, within } from '../lib/trainers.mjs';
import { REGION, authFlags, claimsOf, makePool, startMoto, waitUntilReady } from '../lib/cognito.mjs';

// Node 20 has no WebSocket; the subscription link uses the global one. This subclass only
// records the URL and subprotocols the link opens, to read the handshake's header.
const opened = [];
globalThis.WebSocket = class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    opened.push({ url: String(url), protocols });
    super(url, protocols);
  }
};

const KEY = 'da2-e2eapolloauthkey00000000';
const FIELDS = 'id firstName lastName age owner version';

let moto;
let pool;
let server;
const clients = [];

/**
 * An Apollo client as AWS documents it for AppSync with Cognito user pools: the auth link, then
 * the subscription handshake link in front of an HttpLink, both with the same auth. `acks` gets
 * the subscription link's "CONNECTED" control result (on start_ack, asked for with
 * CONTROL_EVENTS_KEY).
 */
function makeClient(jwtToken, acks) {
  const url = server.https;
  const auth = { type: AUTH_TYPE.AMAZON_COGNITO_USER_POOLS, jwtToken };
  const watchAcks = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap((result) => {
        if (result?.extensions?.controlMsgType === 'CONNECTED') acks?.push(operation.variables);
      }),
    ),
  );
  const client = new ApolloClient({
    link: ApolloLink.from([
      createAuthLink({ url, region: REGION, auth }),
      watchAcks,
      createSubscriptionHandshakeLink({ url, region: REGION, auth }, new HttpLink({ uri: url })),
    ]),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'network-only' } },
  });
  clients.push(client);
  return client;
}

let jane;
let janeClaims;
let joe;
const janeAcks = new EventQueue();

before(async () => {
  assertNodeTrustsLocalCa();
  moto = await startMoto();
  pool = await makePool(moto, { jane: [], joe: [] }, 'trainers-apollo');
  server = await startServer({ keys: [KEY], extra: authFlags(pool) });
  await waitUntilReady(server.addr);
  // jane's token through an async function, asked for on each request; joe's as a string.
  const janeTokens = await pool.signIn('jane');
  janeClaims = claimsOf(janeTokens.AccessToken);
  jane = makeClient(async () => janeTokens.AccessToken, janeAcks);
  joe = makeClient((await pool.signIn('joe')).AccessToken);
});

after(async () => {
  try {
    for (const client of clients) client.stop();
    await server?.stop();
  } finally {
    await moto?.stop();
  }
});

const CREATE = gql`mutation Create($firstName: String!, $age: Int!) {
  createTrainer(firstName: $firstName, lastName: "Apollo", age: $age) { ${FIELDS} }
}`;
const GET = gql`query Get($id: ID!) { getTrainer(id: $id) { ${FIELDS} } }`;
const UPDATE = gql`mutation Update($id: ID!, $age: Int) { updateTrainers(id: $id, age: $age) { ${FIELDS} } }`;

/** A trainer as the API answers it: without the __typename that Apollo adds to selections. */
function plain({ __typename, ...fields }) {
  assert.equal(__typename, 'Trainers');
  return fields;
}

async function create(client, firstName, age) {
  const { data } = await client.mutate({ mutation: CREATE, variables: { firstName, age } });
  return plain(data.createTrainer);
}

/** The GraphQL errors of a rejected Apollo call. */
async function graphqlErrorsOf(call) {
  const thrown = await call.then(
    (result) => assert.fail(`Apollo did not throw: ${JSON.stringify(result)}`),
    (error) => error,
  );
  assert.ok(CombinedGraphQLErrors.is(thrown), `not GraphQL errors: ${thrown}`);
  return thrown;
}

test('signed in with a Cognito token, Apollo reads and creates a trainer owned by <sub>::jane', async () => {
  assert.equal(janeClaims.iss, pool.issuer);
  assert.equal(janeClaims.username, 'jane');

  const page = await jane.query({ query: gql`query { allTrainers(limit: 5) { items { id } nextToken } }` });
  assert.deepEqual(page.data.allTrainers.items, []);
  assert.equal(page.data.allTrainers.nextToken, null);

  const created = await create(jane, 'Ada', 36);
  assert.equal(created.owner, `${janeClaims.sub}::jane`);
  assert.equal(created.version, 1);

  const got = await jane.query({ query: GET, variables: { id: created.id } });
  assert.deepEqual(plain(got.data.getTrainer), created);
});

test('joe\'s update of jane\'s trainer: Apollo throws Unauthorized, nothing changes', async () => {
  const trainer = await create(jane, 'Grace', 45);

  const refused = await graphqlErrorsOf(joe.mutate({ mutation: UPDATE, variables: { id: trainer.id, age: 99 } }));
  assert.equal(refused.errors.length, 1);
  assert.equal(refused.errors[0].errorType, 'Unauthorized');
  assert.equal(refused.errors[0].message, 'Not Authorized to access updateTrainers on type Mutation');
  assert.deepEqual(refused.errors[0].path, ['updateTrainers']);
  assert.deepEqual(refused.data, { updateTrainers: null });

  const still = await post(server.http, KEY, 'query Get($id: ID!) { getTrainer(id: $id) { ' + FIELDS + ' } }', {
    id: trainer.id,
  });
  assert.deepEqual(still.body.data.getTrainer, trainer);
});

test('a subscription signed in through the handshake link hears jane\'s update, not joe\'s refused one', async () => {
  const trainer = await create(jane, 'Hedy', 40);

  const events = new EventQueue();
  const before = opened.length;
  const variables = { id: trainer.id };
  const subscription = jane
    .subscribe({
      query: gql`subscription OnUpdate($id: ID) { onUpdateTrainer(id: $id) { id age owner } }`,
      variables,
      context: { controlMessages: { [CONTROL_EVENTS_KEY]: true } },
    })
    .subscribe({ next: (result) => events.push(result), error: (error) => events.push({ error }) });
  try {
    assert.deepEqual(await within(10_000, janeAcks.next(), 'start_ack of onUpdateTrainer'), variables);
    // The link put jane's access token in the handshake's header, where the API key would go.
    const socket = opened[before];
    assert.equal(socket.url, `wss://${server.addr}/graphql/realtime`);
    assert.equal(socket.protocols[0], 'graphql-ws');
    const header = JSON.parse(Buffer.from(socket.protocols[1].slice('header-'.length), 'base64url'));
    assert.equal(header.host, server.addr);
    assert.equal(header['x-api-key'], undefined);
    assert.equal(claimsOf(header.Authorization).sub, janeClaims.sub);

    await jane.mutate({ mutation: UPDATE, variables: { id: trainer.id, age: 41 } });
    const first = await events.next();
    assert.equal(first.error, undefined, String(first.error));
    assert.deepEqual(plain(first.data.onUpdateTrainer), { id: trainer.id, age: 41, owner: trainer.owner });

    const refused = await graphqlErrorsOf(joe.mutate({ mutation: UPDATE, variables: { id: trainer.id, age: 99 } }));
    assert.equal(refused.errors[0].errorType, 'Unauthorized');

    await jane.mutate({ mutation: UPDATE, variables: { id: trainer.id, age: 42 } });
    // The next event is jane's 42: the refused 99 was never published.
    const second = await events.next();
    assert.deepEqual(plain(second.data.onUpdateTrainer), { id: trainer.id, age: 42, owner: trainer.owner });
    assert.equal(events.items.length, 0, JSON.stringify(events.items));
  } finally {
    subscription.unsubscribe();
  }
});
