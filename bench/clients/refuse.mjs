// One client's side of bench/clients/refused-key.mjs: subscribes N times with a key the server
// refuses and prints, as one JSON line, the milliseconds from each subscribe() to the client's
// error, and how many WebSockets each attempt opened. Run by refused-key.mjs, which starts the
// server and runs this with NODE_EXTRA_CA_CERTS trusting its certificate.
//
//   node refuse.mjs amplify|apollo|raw URL N
//
// The packages are the end-to-end tests' own, exactly as pinned there (tests/e2e/amplify and
// tests/e2e/apollo: Amplify's graphql 15 and Apollo's graphql 16 stay apart).

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const [which, url, count] = process.argv.slice(2);
const trials = Number(count);
const BAD_KEY = 'da2-notakeyofthisserver000000';
const root = fileURLToPath(new URL('../../', import.meta.url));
const folder = which === 'amplify' ? 'amplify' : 'apollo';
const require = createRequire(`${root}tests/e2e/${folder}/package.json`);

// Node 20 has no WebSocket; both clients use the global one. Counts the sockets opened.
const WebSocket = require('ws');
let opened = 0;
globalThis.WebSocket = class CountingWebSocket extends WebSocket {
  constructor(address, protocols) {
    opened += 1;
    super(address, protocols);
  }
};

/** Resolves with the error value; rejects after 60 s (a client that keeps retrying). */
function untilError(subscribe) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no error within 60 s')), 60_000);
    subscribe((error) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}

function amplify() {
  const { Amplify } = require('aws-amplify');
  const { generateClient } = require('aws-amplify/api');
  Amplify.configure({
    API: { GraphQL: { endpoint: url, region: 'us-east-1', defaultAuthMode: 'apiKey', apiKey: BAD_KEY } },
  });
  const client = generateClient();
  return (done) =>
    client.graphql({ query: 'subscription { onCreateTrainer { id } }' }).subscribe({
      next: () => done(new Error('an event with a refused key')),
      error: done,
    });
}

function apollo() {
  const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = require('@apollo/client');
  const { AUTH_TYPE, createAuthLink } = require('aws-appsync-auth-link');
  const { createSubscriptionHandshakeLink } = require('aws-appsync-subscription-link');
  const auth = { type: AUTH_TYPE.API_KEY, apiKey: BAD_KEY };
  const region = 'us-east-1';
  const client = new ApolloClient({
    link: ApolloLink.from([
      createAuthLink({ url, region, auth }),
      createSubscriptionHandshakeLink({ url, region, auth }, new HttpLink({ uri: url })),
    ]),
    cache: new InMemoryCache(),
  });
  const query = gql`subscription { onCreateTrainer { id } }`;
  // Apollo Client 4 hands the link's error to the subscriber as a result's `error`.
  return (done) =>
    client.subscribe({ query }).subscribe({
      next: (result) => done(result.error ?? new Error('an event with a refused key')),
      error: done,
    });
}

/** The floor: AppSync's handshake by hand with ws, to the connection_error. */
function raw() {
  const realtime = url.replace(/^http/, 'ws').concat('/realtime');
  const host = new URL(url).host;
  const header = Buffer.from(JSON.stringify({ host, 'x-api-key': BAD_KEY })).toString('base64url');
  return (done) => {
    const socket = new globalThis.WebSocket(realtime, ['graphql-ws', `header-${header}`]);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (message) => {
      const data = JSON.parse(String(message));
      if (data.type === 'connection_error') {
        socket.close();
        done(data);
      }
    });
    socket.on('error', done);
  };
}

const subscribe = { amplify, apollo, raw }[which]();
const ms = [];
const sockets = [];
for (let i = 0; i < trials; i += 1) {
  const before = opened;
  const started = performance.now();
  await untilError(subscribe);
  ms.push(performance.now() - started);
  sockets.push(opened - before);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(JSON.stringify({ client: which, url, ms, sockets }));
process.exit(0);
