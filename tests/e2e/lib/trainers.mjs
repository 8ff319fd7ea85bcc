// What the end-to-end tests with real AppSync clients share (tests/e2e/amplify, apollo, browser):
// a real `trainers serve` on a free loopback port, plain and TLS on the same port, with the
// certificate that `trainers tls create` makes, and a queue to wait for subscription events.
// Node built-ins only, so each client's folder keeps its own pinned packages.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const binary = process.env.TRAINERS_BIN ?? join(root, 'target', 'debug', 'trainers');
export const FIELDS = 'id firstName lastName age specialty createdAt updatedAt version';
export const PATIENCE_MS = 10_000;

/**
 * The certificate files of `trainers tls create`, in TRAINERS_TLS_DIR. Node reads
 * NODE_EXTRA_CA_CERTS only when it starts, so the directory is made before node starts
 * (scripts/e2e-clients.sh does it) and Node must have been started trusting its ca.pem.
 */
export function tlsFiles() {
  const dir = process.env.TRAINERS_TLS_DIR;
  assert.ok(
    dir,
    'TRAINERS_TLS_DIR is not set: run these tests with scripts/e2e-clients.sh, or make one with ' +
      '`trainers tls create --dir DIR` and run node with TRAINERS_TLS_DIR=DIR NODE_EXTRA_CA_CERTS=DIR/ca.pem',
  );
  const files = {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
  };
  for (const file of [files.ca, files.cert, files.key]) {
    assert.ok(existsSync(file), `${file} is missing (trainers tls create --dir ${dir})`);
  }
  return files;
}

/** Node trusts the local CA the way a developer makes it trust it: NODE_EXTRA_CA_CERTS. */
export function assertNodeTrustsLocalCa() {
  const { ca } = tlsFiles();
  assert.equal(
    resolve(process.env.NODE_EXTRA_CA_CERTS ?? ''),
    resolve(ca),
    `start node with NODE_EXTRA_CA_CERTS=${ca}`,
  );
}

/** `trainers tls create --dir DIR`: a local CA and a certificate for localhost that it signs. */
export function makeCertificate(dir) {
  const made = spawnSync(binary, ['tls', 'create', '--dir', dir], { encoding: 'utf8' });
  assert.equal(made.status, 0, `${binary} tls create failed: ${made.stderr}`);
  return { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/**
 * `trainers serve` on a free loopback port and a fresh data directory, with TLS when `tls` is
 * true (`bin`: another binary than TRAINERS_BIN; `extra`: more flags, such as --auth-issuer).
 * Resolves once it has printed where it listens: its first line, and with TLS the second.
 */
export async function startServer({ keys, tls = true, bin = binary, extra = [] }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'trainers-e2e-clients-'));
  const args = ['serve', '--addr', '127.0.0.1:0', '--data-dir', join(dataDir, 'data')];
  for (const key of keys) args.push('--api-key', key);
  args.push(...extra);
  if (tls) {
    const files = tlsFiles();
    args.push('--tls-cert', files.cert, '--tls-key', files.key);
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  const printed = [];
  const listening = new Promise((resolvePromise, reject) => {
    let timer = setTimeout(
      () => reject(new Error(`${bin} did not say where it listens: ${printed.join(' | ')} ${stderr}`)),
      30_000,
    );
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${bin} exited with ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      printed.push(line);
      const found = printed[0].match(/^Trainers API listening on http:\/\/(\S+)\/graphql$/);
      if (!found) return;
      // With TLS the second line follows the first at once; don't wait 30 s for a missing one.
      if (tls && printed.length < 2) {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`${bin} printed no second line (TLS): ${printed[0]}`)), 3_000);
        return;
      }
      clearTimeout(timer);
      resolvePromise(found[1]);
    });
  });
  let addr;
  try {
    addr = await listening;
    if (tls) {
      assert.equal(
        printed[1],
        `Also https://${addr}/graphql and wss://${addr}/graphql/realtime on the same port`,
      );
    }
  } catch (error) {
    // A server that did not start as expected is not left running.
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    addr,
    port,
    http: `http://${addr}/graphql`,
    https: `https://${addr}/graphql`,
    printed,
    stop,
  };
}

/** A plain POST /graphql, to set up or check state without the client under test. */
export async function post(url, key, query, variables = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** Events of a subscription, in order; `next()` waits for the next one, at most PATIENCE_MS. */
export class EventQueue {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next(ms = PATIENCE_MS) {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`nothing came within ${ms} ms`));
      }, ms);
      const waiter = (item) => {
        clearTimeout(timer);
        resolvePromise(item);
      };
      this.waiters.push(waiter);
    });
  }
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
