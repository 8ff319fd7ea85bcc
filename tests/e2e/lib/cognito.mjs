// moto's Cognito as a local token issuer for the end-to-end tests with real AppSync clients
// (tests/e2e/amplify/amplify-auth.e2e.mjs, tests/e2e/apollo/apollo-auth.e2e.mjs): moto_server
// from .venv (scripts/moto-server.py) on a free loopback port, a pool with its app client, the
// group Admins and users, made with plain AWS JSON requests (moto accepts them unsigned), and
// sign-in with InitiateAuth USER_PASSWORD_AUTH. moto writes the AWS form in `iss`
// (https://cognito-idp.us-east-1.amazonaws.com/POOL_ID) and serves the keys at
// <moto>/POOL_ID/.well-known/jwks.json, hence `trainers serve --auth-jwks-url` (see
// tests/e2e/test_cognito.py). Node built-ins only, like trainers.mjs.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { root } from './trainers.mjs';

export const PASSWORD = 'Pass-word-1!';
export const REGION = 'us-east-1';

async function freePort() {
  const probe = createServer();
  await new Promise((resolvePromise) => probe.listen(0, '127.0.0.1', resolvePromise));
  const { port } = probe.address();
  await new Promise((resolvePromise) => probe.close(resolvePromise));
  return port;
}

/**
 * moto_server on a free loopback port, from .venv; resolves once it answers, with its `url`,
 * `idp(action, body)` (one cognito-idp call, AWS JSON protocol) and `stop()`.
 */
export async function startMoto() {
  const port = await freePort();
  const python = join(root, '.venv', 'bin', 'python');
  assert.ok(existsSync(python), `${python} is missing: moto[server] comes from .venv (bash scripts/setup-tools.sh)`);
  const child = spawn(python, [join(root, 'scripts', 'moto-server.py'), '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  // Killed whatever happens, even when node is made to exit (--test-force-exit).
  process.on('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`${url}/moto-api/`);
      await response.arrayBuffer();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`moto_server did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** One cognito-idp call on moto, AWS JSON protocol, unsigned (moto does not check). */
  async function idp(action, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSCognitoIdentityProviderService.${action}`,
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    assert.equal(response.status, 200, `${action}: ${text}`);
    return text ? JSON.parse(text) : {};
  }

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }

  return { url, idp, stop };
}

/**
 * A pool on `moto` with an app client (USER_PASSWORD_AUTH), the group Admins, and `users`
 * ({username: [group, …]}) with PASSWORD. Its `issuer` and `jwksUrl` are for --auth-*, and
 * `signIn(username)` resolves with the user's tokens (AccessToken, IdToken, RefreshToken).
 */
export async function makePool(moto, users, name = 'trainers-e2e') {
  const { idp } = moto;
  const id = (await idp('CreateUserPool', { PoolName: name })).UserPool.Id;
  const clientId = (
    await idp('CreateUserPoolClient', {
      UserPoolId: id,
      ClientName: `${name}-web`,
      GenerateSecret: false,
      ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    })
  ).UserPoolClient.ClientId;
  await idp('CreateGroup', { UserPoolId: id, GroupName: 'Admins' });
  for (const [username, groups] of Object.entries(users)) {
    await idp('AdminCreateUser', {
      UserPoolId: id,
      Username: username,
      TemporaryPassword: 'Temp-pass-1!',
      MessageAction: 'SUPPRESS',
    });
    await idp('AdminSetUserPassword', { UserPoolId: id, Username: username, Password: PASSWORD, Permanent: true });
    for (const group of groups) {
      await idp('AdminAddUserToGroup', { UserPoolId: id, Username: username, GroupName: group });
    }
  }
  return {
    id,
    clientId,
    issuer: `https://cognito-idp.${REGION}.amazonaws.com/${id}`,
    jwksUrl: `${moto.url}/${id}/.well-known/jwks.json`,
    /** InitiateAuth USER_PASSWORD_AUTH, as any client would: the user's tokens. */
    async signIn(username) {
      const { AuthenticationResult: tokens } = await idp('InitiateAuth', {
        ClientId: clientId,
        AuthFlow: 'USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: username, PASSWORD },
      });
      assert.ok(tokens?.AccessToken, `no tokens for ${username}`);
      return tokens;
    },
  };
}

/** The flags of `trainers serve` that trust `pool`'s tokens, with Admins as the admin group. */
export function authFlags(pool) {
  return [
    '--auth-issuer', pool.issuer,
    '--auth-client-id', pool.clientId,
    '--auth-jwks-url', pool.jwksUrl,
    '--admin-group', 'Admins',
  ];
}

/** A JWT's claims (its payload), unverified. */
export function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
}

/** Waits for GET /readyz: 503 until the server has fetched the issuer's keys. */
export async function waitUntilReady(addr) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`http://${addr}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not yet
    }
    assert.ok(Date.now() < deadline, 'trainers serve never got ready (the issuer\'s keys?)');
    await new Promise((r) => setTimeout(r, 100));
  }
}
