// Accounts end to end with AWS Amplify JS v6 in Node (aws-amplify, pinned in package.json),
// unchanged: Amplify's own Auth signs in against moto's Cognito (moto_server, cognito-idp, run
// from .venv as scripts/moto-server.py), and generateClient with authMode 'userPool' sends the
// user's token to `trainers serve --auth-issuer … --auth-jwks-url …` over https, and a
// subscription carries it in the real-time handshake (wss).
//
// moto's Cognito is reached at http://127.0.0.1:PORT through Amplify's `userPoolEndpoint`; the
// pool, its app client, the group Admins and the users are made by tests/e2e/lib/cognito.mjs
// with plain AWS JSON requests (moto accepts them unsigned).
//
// Run: bash scripts/e2e-clients.sh (it makes the certificate, and starts node trusting it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { fetchAuthSession, signIn, signOut } from 'aws-amplify/auth';
import { Hub } from 'aws-amplify/utils';
import WebSocket from 'ws';
import { EventQueue, assertNodeTrustsLocalCa, post, startServer, within } from '../lib/trainers.mjs';
import { PASSWORD, REGION, authFlags, makePool, startMoto, waitUntilReady } from '../lib/cognito.mjs';

// Node 20 has no WebSocket: Amplify's documented fix is ws. This subclass only records the URL
// and subprotocols Amplify opens, to read the handshake's header; it changes nothing.
const opened = [];
globalThis.WebSocket = class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    opened.push({ url: String(url), protocols });
    super(url, protocols);
  }
};

// Subscription acknowledgements (start_ack) as Amplify announces them on its Hub.
const acks = new EventQueue();
Hub.listen('api', ({ payload }) => {
  if (payload.event === 'Subscription ack') acks.push(payload.data);
});

const KEY = 'da2-e2eamplifyauthkey0000000';
const FIELDS = 'id firstName lastName age owner version';

let moto;
let pool;
let server;

before(async () => {
  assertNodeTrustsLocalCa();
  moto = await startMoto();
  pool = await makePool(moto, { jane: [], joe: [], ann: ['Admins'] }, 'trainers-amplify');
  server = await startServer({ keys: [KEY], extra: authFlags(pool) });
  await waitUntilReady(server.addr);
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: pool.id,
        userPoolClientId: pool.clientId,
        userPoolEndpoint: moto.url,
      },
    },
    API: {
      GraphQL: {
        endpoint: server.https,
        region: REGION,
        defaultAuthMode: 'userPool',
      },
    },
  });
});

after(async () => {
  try {
    await signOut().catch(() => {});
    await server?.stop();
  } finally {
    await moto?.stop();
  }
});

/** Signs `username` in with Amplify (USER_PASSWORD_AUTH); resolves with the access token's claims. */
async function signInAs(username) {
  await signOut();
  const result = await signIn({ username, password: PASSWORD, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.equal(result.isSignedIn, true, JSON.stringify(result.nextStep));
  assert.equal(result.nextStep.signInStep, 'DONE');
  const { tokens } = await fetchAuthSession();
  return tokens.accessToken.payload;
}

const CREATE = `mutation Create($firstName: String!, $age: Int!) {
  createTrainer(firstName: $firstName, lastName: "Amplify", age: $age) { ${FIELDS} }
}`;
const GET = `query Get($id: ID!) { getTrainer(id: $id) { ${FIELDS} } }`;
const UPDATE = `mutation Update($id: ID!, $age: Int) { updateTrainers(id: $id, age: $age) { ${FIELDS} } }`;

/** The GraphQL errors of a rejected Amplify call (Amplify throws the whole result). */
async function errorsOf(call) {
  try {
    await call;
  } catch (thrown) {
    assert.ok(Array.isArray(thrown.errors), `not a GraphQL result: ${thrown}`);
    return thrown;
  }
  assert.fail('Amplify did not throw');
}

test('Amplify signs in against moto\'s Cognito; its token reads, and creates a trainer she owns', async () => {
  const claims = await signInAs('jane');
  assert.equal(claims.iss, pool.issuer);
  assert.equal(claims.username, 'jane');
  assert.equal(claims.client_id, pool.clientId);

  const client = generateClient({ authMode: 'userPool' });
  const page = await client.graphql({ query: 'query { allTrainers(limit: 5) { items { id } nextToken } }' });
  assert.deepEqual(page.data.allTrainers, { items: [], nextToken: null });

  const { data } = await client.graphql({ query: CREATE, variables: { firstName: 'Ada', age: 36 } });
  const created = data.createTrainer;
  assert.equal(created.owner, `${claims.sub}::jane`);
  assert.equal(created.version, 1);

  const got = await client.graphql({ query: GET, variables: { id: created.id } });
  assert.deepEqual(got.data.getTrainer, created);

  const updated = await client.graphql({ query: UPDATE, variables: { id: created.id, age: 37 } });
  assert.equal(updated.data.updateTrainers.age, 37);
  assert.equal(updated.data.updateTrainers.owner, created.owner);
});

test('another user\'s update of her trainer: Amplify surfaces Unauthorized, nothing changes', async () => {
  await signInAs('jane');
  const client = generateClient({ authMode: 'userPool' });
  const trainer = (await client.graphql({ query: CREATE, variables: { firstName: 'Grace', age: 45 } })).data
    .createTrainer;

  await signInAs('joe');
  const refused = await errorsOf(client.graphql({ query: UPDATE, variables: { id: trainer.id, age: 99 } }));
  assert.deepEqual(refused.data, { updateTrainers: null });
  assert.equal(refused.errors.length, 1);
  assert.equal(refused.errors[0].errorType, 'Unauthorized');
  assert.equal(refused.errors[0].message, 'Not Authorized to access updateTrainers on type Mutation');

  const still = await post(server.http, KEY, GET, { id: trainer.id });
  assert.deepEqual(still.body.data.getTrainer, trainer);

  // ann is in Admins: her update goes through, the owner stays jane.
  await signInAs('ann');
  const byAdmin = await client.graphql({ query: UPDATE, variables: { id: trainer.id, age: 46 } });
  assert.equal(byAdmin.data.updateTrainers.age, 46);
  assert.equal(byAdmin.data.updateTrainers.owner, trainer.owner);
});

test('a subscriber signed in with Amplify hears the owner\'s update, not a refused one', async () => {
  const janeClaims = await signInAs('jane');
  const client = generateClient({ authMode: 'userPool' });
  const trainer = (await client.graphql({ query: CREATE, variables: { firstName: 'Hedy', age: 40 } })).data
    .createTrainer;

  const events = new EventQueue();
  const errors = new EventQueue();
  const before = opened.length;
  const subscription = client
    .graphql({
      query: 'subscription OnUpdate($id: ID) { onUpdateTrainer(id: $id) { id age owner } }',
      variables: { id: trainer.id },
    })
    .subscribe({ next: (event) => events.push(event), error: (error) => errors.push(error) });
  try {
    await within(10_000, acks.next(), 'start_ack of onUpdateTrainer');
    // Amplify put jane's access token in the handshake's header, where the API key would go.
    const socket = opened[before];
    assert.equal(socket.url, `wss://${server.addr}/graphql/realtime`);
    const header = JSON.parse(Buffer.from(socket.protocols[1].slice('header-'.length), 'base64url'));
    assert.equal(header.host, server.addr);
    const tokenClaims = JSON.parse(Buffer.from(header.Authorization.split('.')[1], 'base64url'));
    assert.equal(tokenClaims.sub, janeClaims.sub);

    await client.graphql({ query: UPDATE, variables: { id: trainer.id, age: 41 } });
    assert.deepEqual((await events.next()).data.onUpdateTrainer, { id: trainer.id, age: 41, owner: trainer.owner });

    await signInAs('joe');
    const refused = await errorsOf(client.graphql({ query: UPDATE, variables: { id: trainer.id, age: 99 } }));
    assert.equal(refused.errors[0].errorType, 'Unauthorized');

    await signInAs('jane');
    await client.graphql({ query: UPDATE, variables: { id: trainer.id, age: 42 } });
    // The next event is jane's 42: the refused 99 was never published.
    assert.deepEqual((await events.next()).data.onUpdateTrainer, { id: trainer.id, age: 42, owner: trainer.owner });
    assert.equal(errors.items.length, 0, JSON.stringify(errors.items));
  } finally {
    subscription.unsubscribe();
  }
});
