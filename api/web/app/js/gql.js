// GraphQL over HTTP (POST /graphql) and subscriptions over /ws with the graphql-transport-ws
// protocol. The access token (from login/register) goes in the Authorization header and in
// the connection_init payload, as the API expects.

const TOKEN_KEY = 'stix-archive.token';
const USER_KEY = 'stix-archive.user';

/** A GraphQL error answer; `errors` holds the API's errors with their extensions. */
export class GqlError extends Error {
  constructor(errors, data) {
    super(errors.map((e) => e.message).join('; ') || 'request failed');
    this.errors = errors;
    this.data = data;
  }
  /** The `extensions.code` of the first error. */
  get code() { return this.errors[0]?.extensions?.code; }
}

/** The stored session: {token, user} or null. */
export function session() {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try { return { token, user: JSON.parse(localStorage.getItem(USER_KEY) || 'null') }; } catch { return { token, user: null }; }
}

/** Stores (or, with null, forgets) the session of an AuthPayload. */
export function setSession(payload) {
  if (!payload) { localStorage.removeItem(TOKEN_KEY); localStorage.removeItem(USER_KEY); return; }
  localStorage.setItem(TOKEN_KEY, payload.token);
  localStorage.setItem(USER_KEY, JSON.stringify(payload.user));
}

/** Runs one query or mutation; resolves to `data`, rejects with a GqlError. */
export async function gql(query, variables = {}) {
  const headers = { 'content-type': 'application/json' };
  const s = session();
  if (s) headers.authorization = `Bearer ${s.token}`;
  let r;
  try {
    r = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  } catch (e) {
    throw new GqlError([{ message: `the server cannot be reached (${e.message})` }]);
  }
  let body;
  try { body = await r.json(); } catch { throw new GqlError([{ message: `HTTP ${r.status}` }]); }
  if (body.errors?.length) {
    if (body.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED') && s) setSession(null);
    throw new GqlError(body.errors, body.data);
  }
  return body.data;
}

/**
 * Subscribes over /ws. `handlers`: {next(data), error(GqlError), complete()}.
 * Returns a function that ends the subscription.
 */
export function subscribe(query, variables, handlers) {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const id = String(Math.floor(Math.random() * 1e9));
  let finished = false;
  const finish = () => { finished = true; };
  const s = session();
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: 'connection_init', payload: s ? { authorization: `Bearer ${s.token}` } : {} }));
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    switch (m.type) {
      case 'connection_ack':
        ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong' }));
        break;
      case 'next':
        if (m.payload?.errors?.length) handlers.error?.(new GqlError(m.payload.errors));
        else handlers.next?.(m.payload.data);
        break;
      case 'error':
        finish();
        handlers.error?.(new GqlError(Array.isArray(m.payload) ? m.payload : [{ message: 'subscription error' }]));
        ws.close(1000);
        break;
      case 'complete':
        finish();
        handlers.complete?.();
        ws.close(1000);
        break;
      default:
        break;
    }
  };
  ws.onclose = (ev) => {
    if (!finished) {
      finish();
      handlers.error?.(new GqlError([{ message: `the live connection closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})` }]));
    }
  };
  return () => {
    if (finished) return;
    finish();
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id, type: 'complete' }));
    ws.close(1000);
  };
}
