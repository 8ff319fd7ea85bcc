// How long a real AppSync client takes to report a refused API key on a subscription: from
// subscribe() to the client's error, for Amplify JS v6 and for Apollo Client with
// aws-appsync-subscription-link, against a real `trainers serve` (TLS on its port, the
// certificate from `trainers tls create`). Both clients give up at once only when the
// server's connection_error carries errorCode 400/401/403 (Amplify also on errorType
// UnauthorizedException); otherwise they retry with backoff.
//
//   node bench/clients/refused-key.mjs [TRIALS]     (bash bench/clients/run.sh installs first)
//
// TRAINERS_BIN: the server (default target/debug/trainers). TRAINERS_BASE_BIN, when set: a
// server without the errorCode, measured once with Apollo over ws:// for comparison.
// Prints a table and writes it to bench/clients/results.md. Loopback only; stops by itself.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binary, makeCertificate, startServer } from '../../tests/e2e/lib/trainers.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const trials = Number(process.argv[2] ?? 20);
const work = mkdtempSync(join(tmpdir(), 'trainers-bench-clients-'));
const tls = makeCertificate(join(work, 'tls'));
process.env.TRAINERS_TLS_DIR = tls.dir;

function run(client, url, n) {
  const child = spawnSync(process.execPath, [join(here, 'refuse.mjs'), client, url, String(n)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.ca },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (child.status !== 0) throw new Error(`${client} ${url}: ${child.stderr || child.error}`);
  return JSON.parse(child.stdout.trim().split('\n').pop());
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function row(label, realtime, result) {
  const sorted = [...result.ms].sort((a, b) => a - b);
  const f = (v) => v.toFixed(1);
  const sockets = [...new Set(result.sockets)].join(', ');
  return `| ${label} | \`${realtime}\` | ${sorted.length} | ${f(sorted[0])} | ${f(quantile(sorted, 0.5))} | ${f(quantile(sorted, 0.9))} | ${f(sorted[sorted.length - 1])} | ${sockets} |`;
}

const realtimeS = 'wss://ADDR/graphql/realtime';
const realtime = 'ws://ADDR/graphql/realtime';
const lines = [
  '| client | real-time URL it derives | trials | min ms | p50 ms | p90 ms | max ms | sockets per attempt |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
const server = await startServer({ keys: ['da2-benchclientsgoodkey0000000'] });
try {
  const https = `https://${server.addr}/graphql`;
  const http = `http://${server.addr}/graphql`;
  run('raw', https, 3); // warm-up: the server's first TLS handshakes, node's module cache
  lines.push(row('the handshake by hand (ws), the floor', realtimeS, run('raw', https, trials)));
  lines.push(row('Amplify JS v6 (`https://ADDR/graphql`)', realtimeS, run('amplify', https, trials)));
  lines.push(row('Apollo + aws-appsync-subscription-link (`https://ADDR/graphql`)', realtimeS, run('apollo', https, trials)));
  lines.push(row('Apollo + aws-appsync-subscription-link (`http://ADDR/graphql`)', realtime, run('apollo', http, trials)));
} finally {
  await server.stop();
}

if (process.env.TRAINERS_BASE_BIN) {
  // A server before errorCode (no TLS either): the same Apollo over plain ws, once.
  const old = await startServer({ keys: ['da2-benchclientsgoodkey0000000'], tls: false, bin: process.env.TRAINERS_BASE_BIN });
  try {
    const result = run('apollo', `http://${old.addr}/graphql`, 1);
    lines.push(row('Apollo, against TRAINERS_BASE_BIN (no errorCode) (`http://ADDR/graphql`)', realtime, result));
  } finally {
    await old.stop();
  }
}

rmSync(work, { recursive: true, force: true });
const table = lines.join('\n');
console.log(`Refused key to the client's error, ${trials} trials each, server ${binary}\n`);
console.log(table);
writeFileSync(
  join(here, 'results.md'),
  `# Refused key → the client's error (bash bench/clients/run.sh)\n\n` +
    `A subscription with an API key the server refuses; from subscribe() to the client's error, ` +
    `in milliseconds, ${trials} trials each, on loopback, on the project's 2-core machine.\n\n${table}\n`,
);
