// The explorer page: GraphiQL against this server's /graphql, with the API key entered once in a
// bar above it. The key is kept in localStorage and sent as `x-api-key` on every HTTP request,
// and in connection_init's payload ({"x-api-key": key}) on the graphql-transport-ws socket that
// carries subscriptions. Everything this page needs is in the one HTML file the server serves.

import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import 'graphiql/graphiql.css';
import './explorer.css';

const KEY_STORAGE = 'trainers-explorer:api-key';
const FORBIDDEN = 4403;
const NO_KEY = 'No API key yet: enter it in the bar above (it is sent as x-api-key).';

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

/** The same origin's /graphql, over ws: or wss: as the page is http: or https:. */
function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/graphql`;
}

/** What the socket's state means to the person at the page. */
function describeClose(event) {
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
      className="explorer-bar"
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

function Explorer() {
  const [apiKey, setApiKey] = useState(storedKey);
  const [socket, setSocket] = useState('not connected');

  // One WebSocket client per key: a new key closes the old socket; the next subscription opens
  // one with the new key in connection_init.
  const ws = useMemo(() => {
    // A disposed client's last events (its socket closing) must not overwrite the new one's.
    let live = true;
    const show = (state) => live && setSocket(state);
    const client = createClient({
      url: socketUrl(),
      connectionParams: () => ({ 'x-api-key': apiKey }),
      // A refused key stays refused: no retries with it (a new key makes a new client).
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
  }, [apiKey]);
  useEffect(() => {
    setSocket('not connected');
    return () => ws.dispose();
  }, [ws]);

  // A new fetcher per key: GraphiQL then fetches the schema again, with the new key. Without a
  // key (in the bar or in GraphiQL's headers) it says so instead of asking the server.
  const fetcher = useMemo(() => {
    const toServer = createGraphiQLFetcher({
      url: '/graphql',
      headers: apiKey ? { 'x-api-key': apiKey } : {},
      enableIncrementalDelivery: false,
      wsClient: ws.client,
    });
    return (params, options) => {
      const headers = Object.keys(options?.headers ?? {}).map((name) => name.toLowerCase());
      if (!apiKey && !headers.includes('x-api-key')) {
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
      return toServer(params, { ...options, documentAST });
    };
  }, [apiKey, ws]);

  return (
    <>
      <KeyBar
        apiKey={apiKey}
        socket={socket}
        onKey={(key) => {
          storeKey(key);
          setApiKey(key);
        }}
      />
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
