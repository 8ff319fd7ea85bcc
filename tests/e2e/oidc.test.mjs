// Accounts with a generic OpenID Connect issuer that is not Cognito (issue 19 item 6): npm's
// oauth2-mock-server serves its discovery document and JWKS on a free loopback port and signs
// tokens with claims we choose; a real `trainers serve --auth-issuer ISSUER --auth-client-id ID
// --auth-jwks-url ISSUER/jwks --admin-group admins` takes them over plain HTTP.
//
// What a token of such an issuer needs (crates/api/src/auth/tokens.rs): `iss` equal to ISSUER,
// `exp`, `sub` (no colon), the client in `aud` (or `client_id`), and no `token_use`. The username
// is `username`, else `cognito:username`, else `preferred_username`, else the sub. Groups are read
// from `cognito:groups` only, so the admin's token carries that claim.
//
// Run: `node --test tests/e2e/` after `cargo build -p trainers-cli` (or set TRAINERS_BIN) and
// `bash scripts/setup-tools.sh` (oauth2-mock-server comes from tools/node_modules).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { root, startServer } from './lib/trainers.mjs';

const requireTool = createRequire(join(root, 'tools', 'package.json'));
const { OAuth2Server } = requireTool('oauth2-mock-server');

const KEY = 'da2-e2etestkeyforoidcissuer0000';
const CLIENT = 'trainers-oidc-e2e';
const FIELDS = 'id firstName lastName age owner version';
const CREATE = `mutation ($f: String!) { createTrainer(firstName: $f, lastName: "Oidc", age: 36) { ${FIELDS} } }`;
const UPDATE = `mutation ($id: ID!, $age: Int) { updateTrainers(id: $id, age: $age) { ${FIELDS} } }`;
const GET = `query ($id: ID!) { getTrainer(id: $id) { ${FIELDS} } }`;

let issuer; // the mock the server trusts
let foreign; // another mock: its keys are not the issuer's
let server;
let rsaKid;
let ecKid;

/** A mock OpenID Connect issuer on a free loopback port, its URL naming 127.0.0.1. */
async function startIssuer() {
  const mock = new OAuth2Server();
  await mock.start(0, '127.0.0.1');
  // Its own default is http://localhost:PORT; the server must reach it where it listens.
  mock.issuer.url = `http://127.0.0.1:${mock.address().port}`;
  return mock;
}

/** A token of `mock` with these claims (they override iss, exp and the rest); `kid` picks the key. */
function token(mock, claims, { kid, expiresIn } = {}) {
  return mock.issuer.buildToken({
    kid,
    expiresIn,
    scopesOrTransform: (_header, payload) => Object.assign(payload, claims),
  });
}

/** A user of the trusted issuer: `aud` is our client. */
const user = (sub, username, extra = {}) => ({ sub, username, aud: CLIENT, ...extra });

async function post(query, variables, headers) {
  const response = await fetch(server.http, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    errorType: response.headers.get('x-amzn-errortype'),
    body: await response.json(),
  };
}

const bearer = (jwt) => ({ authorization: `Bearer ${jwt}` });

async function created(answer) {
  const { status, body } = await answer;
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.errors, undefined, JSON.stringify(body));
  return body.data.createTrainer;
}

async function assert401(answer) {
  const { status, errorType, body } = await answer;
  assert.equal(status, 401, JSON.stringify(body));
  assert.equal(errorType, 'UnauthorizedException');
  assert.equal(body.errors[0].errorType, 'UnauthorizedException', JSON.stringify(body));
  return body.errors[0].message;
}

before(async () => {
  issuer = await startIssuer();
  rsaKid = (await issuer.issuer.keys.generate('RS256')).kid;
  ecKid = (await issuer.issuer.keys.generate('ES256')).kid;
  foreign = await startIssuer();
  // The same kid as the issuer's RSA key, so only the signature can tell them apart.
  await foreign.issuer.keys.generate('RS256', { kid: rsaKid });

  const discovery = await (await fetch(`${issuer.issuer.url}/.well-known/openid-configuration`)).json();
  assert.equal(discovery.issuer, issuer.issuer.url);
  assert.equal(discovery.jwks_uri, `${issuer.issuer.url}/jwks`);

  server = await startServer({
    keys: [KEY],
    tls: false,
    extra: [
      '--auth-issuer', issuer.issuer.url,
      '--auth-client-id', CLIENT,
      '--auth-jwks-url', discovery.jwks_uri,
      '--admin-group', 'admins',
    ],
  });
  // /readyz is 503 until the issuer's keys were fetched.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`http://${server.addr}/readyz`).catch(() => null);
    if (ready?.status === 200) break;
    assert.ok(Date.now() < deadline, `trainers serve never got ready: /readyz ${ready?.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

after(async () => {
  await server?.stop();
  await issuer?.stop();
  await foreign?.stop();
});

test('a generic OIDC user creates a trainer she owns; another user is refused; an admin may update', async () => {
  const jane = await token(issuer, user('jane-sub', 'jane'), { kid: rsaKid });
  const trainer = await created(post(CREATE, { f: 'Ada' }, bearer(jane)));
  assert.equal(trainer.owner, 'jane-sub::jane');

  // The owner may update; the same token without "Bearer " counts too (AppSync's header).
  const mine = await post(UPDATE, { id: trainer.id, age: 37 }, { authorization: jane });
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  assert.equal(mine.body.data.updateTrainers.age, 37);
  assert.equal(mine.body.data.updateTrainers.owner, trainer.owner);

  // joe is signed in (an ES256 token of the same issuer, client in client_id) but not the owner.
  const joe = await token(issuer, { sub: 'joe-sub', username: 'joe', client_id: CLIENT }, { kid: ecKid });
  const refused = await post(UPDATE, { id: trainer.id, age: 99 }, bearer(joe));
  assert.equal(refused.status, 200, JSON.stringify(refused.body));
  assert.deepEqual(refused.body.data, { updateTrainers: null });
  assert.equal(refused.body.errors.length, 1);
  assert.equal(refused.body.errors[0].errorType, 'Unauthorized');
  assert.equal(refused.body.errors[0].message, 'Not Authorized to access updateTrainers on type Mutation');
  const unchanged = await post(GET, { id: trainer.id }, { 'x-api-key': KEY });
  assert.equal(unchanged.body.data.getTrainer.age, 37);
  assert.equal(unchanged.body.data.getTrainer.version, mine.body.data.updateTrainers.version);

  // ann is in the admin group (cognito:groups: the one claim the server reads groups from).
  const ann = await token(issuer, user('ann-sub', 'ann', { 'cognito:groups': ['admins'] }), { kid: ecKid });
  const byAdmin = await post(UPDATE, { id: trainer.id, age: 46 }, bearer(ann));
  assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.body));
  assert.equal(byAdmin.body.errors, undefined, JSON.stringify(byAdmin.body));
  assert.equal(byAdmin.body.data.updateTrainers.age, 46);
  assert.equal(byAdmin.body.data.updateTrainers.owner, trainer.owner);

  // A group of another name is no admin.
  const bob = await token(issuer, user('bob-sub', 'bob', { 'cognito:groups': ['staff'] }), { kid: rsaKid });
  const notAdmin = await post(UPDATE, { id: trainer.id, age: 50 }, bearer(bob));
  assert.equal(notAdmin.body.errors[0].errorType, 'Unauthorized');

  // Without a username claim the username is preferred_username, else the sub.
  const pat = await token(issuer, { sub: 'pat-sub', preferred_username: 'pat', aud: [CLIENT, 'other'] }, { kid: rsaKid });
  assert.equal((await created(post(CREATE, { f: 'Grace' }, bearer(pat)))).owner, 'pat-sub::pat');
  const anon = await token(issuer, { sub: 'anon-sub', aud: CLIENT }, { kid: ecKid });
  assert.equal((await created(post(CREATE, { f: 'Hedy' }, bearer(anon)))).owner, 'anon-sub::anon-sub');
});

test('a wrong audience, an expired token and another issuer\'s key are 401 UnauthorizedException', async () => {
  const create = (jwt) => post(CREATE, { f: 'Mallory' }, bearer(jwt));

  const wrongAud = await token(issuer, user('jane-sub', 'jane', { aud: 'someone-else' }), { kid: rsaKid });
  assert.equal(await assert401(create(wrongAud)), 'The token was not issued to an accepted client');

  // An hour past its exp: well beyond the minute of leeway.
  const expired = await token(issuer, user('jane-sub', 'jane'), { kid: rsaKid, expiresIn: -3600 });
  assert.equal(await assert401(create(expired)), 'The token has expired');

  // Signed by the other mock's key under the issuer's kid, with the issuer's iss: the signature fails.
  const forged = await token(foreign, user('jane-sub', 'jane', { iss: issuer.issuer.url }));
  assert.equal(await assert401(create(forged)), 'The token\'s signature is not valid');

  // The other mock's token as it issues it (its own iss) is refused too, API key or not.
  const foreignKey = await foreign.issuer.keys.generate('ES256');
  const theirs = await token(foreign, user('jane-sub', 'jane'), { kid: foreignKey.kid });
  await assert401(create(theirs));
  await assert401(post(CREATE, { f: 'Mallory' }, { ...bearer(theirs), 'x-api-key': KEY }));

  // None of them created anything.
  const list = await post('query { allTrainers(limit: 100) { items { firstName } nextToken } }', {}, { 'x-api-key': KEY });
  assert.equal(list.body.errors, undefined, JSON.stringify(list.body));
  assert.equal(list.body.data.allTrainers.nextToken, null);
  const names = list.body.data.allTrainers.items.map((t) => t.firstName);
  assert.ok(!names.includes('Mallory'), names.join(', '));
});
