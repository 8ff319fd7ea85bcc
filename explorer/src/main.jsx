// The explorer page: GraphiQL against this server's /graphql, with the API key entered once in a
// bar above it. The key is kept in localStorage and sent as `x-api-key` on every HTTP request,
// and in connection_init's payload ({"x-api-key": key}) on the graphql-transport-ws socket that
// carries subscriptions. Everything this page needs is in the one HTML file the server serves.
//
// A signed-in user's token (a JWT; with accounts, mutations need one) goes in the bar's second
// row. It is sent as `Authorization` on HTTP and in connection_init ({"Authorization": token}),
// beside the key: the server decides which counts. Unlike the key it is kept in sessionStorage:
// it is the user's own credential (whatever is done with it is done as them), it lasts an hour
// or so anyway, and sessionStorage forgets it when the tab closes and never shares it with
// another tab. It is never put in the URL nor logged; its payload is decoded here only to show
// who is signed in and until when (the server verifies it; this page cannot).

import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import 'graphiql/graphiql.css';
import './explorer.css';

const KEY_STORAGE = 'trainers-explorer:api-key';
const TOKEN_STORAGE = 'trainers-explorer:token';
const FORBIDDEN = 4403;
const NO_KEY = 'No API key yet: enter it in the bar above (it is sent as x-api-key).';
const NEEDS_TOKEN =
  'needs a signed-in user: enter a token (a JWT) under Token above' +
  ' (with `trainers serve --auth-local`: trainers token create --username NAME)';

const DEFAULT_QUERY = `# Enter the API key above, then run (Ctrl-Enter).
# Subscriptions run here too:
#   subscription { onCreateTrainer { id firstName } }
query {
  allTrainers(limit: 5) {
    items { id firstName lastName specialty }
    nextToken
  }
}
`;

function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function storeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (a private window, say): the key lasts as long as the page.
  }
}

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_STORAGE, token);
    else sessionStorage.removeItem(TOKEN_STORAGE);
  } catch {
    // As for the key: the token then lasts as long as the page.
  }
}

/** The token as entered, without a `Bearer ` the user may have pasted with it. */
function bareToken(text) {
  return text.trim().replace(/^bearer\s+/i, '').trim();
}

/**
 * The token's claims, for display only: its payload (a JWT's middle part, base64url JSON),
 * unverified. `null` when it is not a JWT.
 */
function claims(token) {
  try {
    const part = token.split('.')[1];
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : null;
  } catch {
    return null;
  }
}

/** Who a token names and until when, as the bar shows it: [text, ok]. */
function describeToken(token, now) {
  if (!token) return ['no token: reads use the API key; mutations need a token', true];
  const payload = claims(token);
  if (!payload) return ['this is not a JWT: the server will refuse it', false];
  const who = payload['cognito:username'] ?? payload.username ?? payload.email ?? payload.sub;
  const name = typeof who === 'string' && who ? who : 'someone (no username in the token)';
  if (typeof payload.exp !== 'number') return [`signed in as ${name}`, true];
  const until = new Date(payload.exp * 1000).toLocaleString();
  if (payload.exp * 1000 <= now) {
    return [`signed in as ${name}: the token expired at ${until}: enter a new one`, false];
  }
  return [`signed in as ${name}, until ${until}`, true];
}

/** Whether a response refuses a mutation for want of a signed-in user. */
function refusesMutation(body) {
  return (body?.errors ?? []).some(
    (e) => e?.errorType === 'Unauthorized' && /on type Mutation$/.test(e?.message ?? ''),
  );
}

/** The same origin's /graphql, over ws: or wss: as the page is http: or https:. */
function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/graphql`;
}

/** What the socket's state means to the person at the page. */
function describeClose(event) {
  // "Forbidden: The token has expired" and the like: the token was refused, not the key.
  if (event?.code === FORBIDDEN && /^Forbidden: /.test(event.reason ?? '')) {
    return `refused the token (4403 ${event.reason}): check it`;
  }
  if (event?.code === FORBIDDEN) return 'refused the key (4403 Forbidden): check it';
  if (event?.code === 1000) return 'closed';
  const reason = event?.reason ? ` ${event.reason}` : '';
  return event?.code ? `closed (${event.code}${reason})` : 'closed';
}

function KeyBar({ apiKey, onKey, socket }) {
  const [draft, setDraft] = useState(apiKey);
  const changed = draft.trim() !== apiKey;
  return (
    <form
      className="explorer-row"
      onSubmit={(event) => {
        event.preventDefault();
        onKey(draft.trim());
      }}
    >
      <strong className="explorer-title">Trainers API</strong>
      <label htmlFor="api-key">API key</label>
      <input
        id="api-key"
        name="api-key"
        type="password"
        autoComplete="off"
        spellCheck="false"
        placeholder="da2-…"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
      />
      <button id="save-key" type="submit" disabled={!changed}>
        Use key
      </button>
      <span id="key-status" className={apiKey ? 'explorer-ok' : 'explorer-warn'}>
        {apiKey
          ? 'sent as x-api-key, kept in this browser'
          : 'enter the API key (x-api-key) to run operations'}
      </span>
      <span id="socket-status" className="explorer-socket">
        subscriptions: {socket}
      </span>
    </form>
  );
}

function TokenBar({ token, onToken, refused }) {
  const [draft, setDraft] = useState(token);
  const changed = bareToken(draft) !== token;
  // The status says "expired" once the token's exp passes, without waiting for another render.
  const [now, setNow] = useState(Date.now);
  const exp = claims(token)?.exp;
  useEffect(() => {
    setNow(Date.now());
    if (typeof exp !== 'number') return undefined;
    const wait = exp * 1000 - Date.now();
    if (wait <= 0 || wait > 2 ** 31 - 1) return undefined;
    const timer = setTimeout(() => setNow(Date.now()), wait + 50);
    return () => clearTimeout(timer);
  }, [exp]);
  const [status, ok] = describeToken(token, now);
  return (
    <form
      className="explorer-row"
      onSubmit={(event) => {
        event.preventDefault();
        setDraft(bareToken(draft));
        onToken(bareToken(draft));
      }}
    >
      <label htmlFor="token" className="explorer-title-indent">
        Token
      </label>
      <input
        id="token"
        name="token"
        type="password"
        autoComplete="off"
        spellCheck="false"
        placeholder="eyJ… (a JWT: a signed-in user's)"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
      />
      <button id="save-token" type="submit" disabled={!changed}>
        Use token
      </button>
      {token ? (
        <button
          id="forget-token"
          type="button"
          className="explorer-quiet"
          onClick={() => {
            setDraft('');
            onToken('');
          }}
        >
          Forget
        </button>
      ) : null}
      <span id="token-status" className={ok ? 'explorer-ok' : 'explorer-warn'}>
        {status}
        {token ? ' (sent as Authorization, kept in this tab only)' : ''}
      </span>
      {refused ? (
        <span id="token-hint" role="alert" className="explorer-warn">
          {refused} {NEEDS_TOKEN}
        </span>
      ) : null}
    </form>
  );
}

function Explorer() {
  const [apiKey, setApiKey] = useState(storedKey);
  const [token, setToken] = useState(storedToken);
  const [socket, setSocket] = useState('not connected');
  // The last mutation refused for want of a token (shown with how to get one), until a token is
  // entered or another operation runs.
  const [refused, setRefused] = useState('');

  // One WebSocket client per key and token: a new one closes the old socket; the next
  // subscription opens one with the new credentials in connection_init.
  const ws = useMemo(() => {
    // A disposed client's last events (its socket closing) must not overwrite the new one's.
    let live = true;
    const show = (state) => live && setSocket(state);
    const client = createClient({
      url: socketUrl(),
      connectionParams: () => ({ 'x-api-key': apiKey, ...(token ? { Authorization: token } : {}) }),
      // Refused credentials stay refused: no retries with them (new ones make a new client).
      shouldRetry: (event) => event?.code !== FORBIDDEN && 'code' in Object(event),
      on: {
        connecting: () => show('connecting…'),
        connected: () => show('connected'),
        closed: (event) => show(describeClose(event)),
      },
    });
    return {
      client,
      dispose() {
        live = false;
        client.dispose();
      },
    };
  }, [apiKey, token]);
  useEffect(() => {
    setSocket('not connected');
    return () => ws.dispose();
  }, [ws]);

  // A new fetcher per key and token: GraphiQL then fetches the schema again, with them. Without
  // either (in the bar or in GraphiQL's headers) it says so instead of asking the server.
  const fetcher = useMemo(() => {
    const headers = {};
    if (apiKey) headers['x-api-key'] = apiKey;
    if (token) headers.Authorization = token;
    const toServer = createGraphiQLFetcher({
      url: '/graphql',
      headers,
      enableIncrementalDelivery: false,
      wsClient: ws.client,
    });
    return (params, options) => {
      const given = Object.keys(options?.headers ?? {}).map((name) => name.toLowerCase());
      const presented = given.includes('x-api-key') || given.includes('authorization');
      if (!apiKey && !token && !presented) {
        return Promise.resolve({ errors: [{ message: NO_KEY }] });
      }
      // GraphiQL parses the editor's text 100 ms after each change; run sooner (a subscription
      // pasted and run at once) and it would describe the previous text, and a subscription would
      // go over HTTP. Parsed here, what runs is what the fetcher routes.
      let documentAST = options?.documentAST;
      try {
        documentAST = parse(params.query);
      } catch {
        // Not GraphQL: the server will say what is wrong with it.
      }
      const answer = toServer(params, { ...options, documentAST });
      if (params.operationName === 'IntrospectionQuery') return answer;
      setRefused('');
      // Refused for want of a user (no token here nor in GraphiQL's headers): say how to be one.
      if (token || given.includes('authorization') || typeof answer?.then !== 'function') {
        return answer;
      }
      return answer.then((body) => {
        if (refusesMutation(body)) {
          const error = body.errors.find((e) => e?.errorType === 'Unauthorized');
          const field = error?.path?.[0] ?? 'The mutation';
          setRefused(`${field} was refused:`);
        }
        return body;
      });
    };
  }, [apiKey, token, ws]);

  return (
    <>
      <header className="explorer-bar">
        <KeyBar
          apiKey={apiKey}
          socket={socket}
          onKey={(key) => {
            storeKey(key);
            setApiKey(key);
          }}
        />
        <TokenBar
          token={token}
          refused={refused}
          onToken={(value) => {
            storeToken(value);
            setToken(value);
            setRefused('');
          }}
        />
      </header>
      <div className="explorer-graphiql">
        <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY}>
          {/* GraphiQL's logo, without its link to GitHub: nothing here leads off the server. */}
          <GraphiQL.Logo>
            Graph<em>i</em>QL
          </GraphiQL.Logo>
        </GraphiQL>
      </div>
    </>
  );
}

createRoot(document.getElementById('explorer')).render(<Explorer />);
