#!/usr/bin/env node
// provider.js serves the Go steps of examples/provider/billing.json for a
// `flowgen serve`, as examples/provider does in Go, but in plain Node.js
// (built-in modules only), written from docs/engine.md ("Remote
// providers", "Replicas", "The protocol"): it shows that the protocol is
// all a provider in another language needs.
//
//   FLOWGEN_PROVIDER_TOKEN="$PROVIDER" node examples/provider-node/provider.js --engine http://127.0.0.1:8080
//
// (FLOWGEN_PROVIDER_TOKEN: a token of the provider role; none on an open API.)
//
// It registers as one replica of the provider "billing" with a lease,
// renews the lease (and registers again when the engine forgot it),
// serves the engine's calls on loopback, and on SIGTERM or Ctrl-C
// withdraws its replica and answers the calls in flight before exiting.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const { parseArgs } = require('node:util');

const { values: opt } = parseArgs({
  options: {
    engine: { type: 'string', default: process.env.FLOWGEN_ENGINE || 'http://127.0.0.1:8080' },
    // The token is read from the environment by default: a flag's value
    // is visible to every user of the machine (ps).
    token: { type: 'string', default: process.env.FLOWGEN_PROVIDER_TOKEN || '' },
    name: { type: 'string', default: 'billing' },
    replica: { type: 'string', default: process.env.FLOWGEN_REPLICA || '' },
    ttl: { type: 'string', default: '30s' },
    // Test hooks: a file where each call appends a line, and a Reconcile
    // that never answers (a call in flight when the process is killed).
    'call-log': { type: 'string', default: '' },
    hang: { type: 'boolean', default: false },
  },
});
const engineURL = opt.engine.replace(/\/+$/, '');
// A replica ID of the process's own, as engine/provider makes one: the
// host name and a random suffix, so that two processes never share one.
const replica = opt.replica || `${os.hostname()}-${crypto.randomBytes(4).toString('hex')}`;
const ttlSeconds = Number(/^(\d+)s$/.exec(opt.ttl)?.[1]);
if (!(ttlSeconds >= 1 && ttlSeconds <= 600)) fail(`--ttl ${opt.ttl}: want whole seconds from 1s to 600s, such as 30s`);
// A token is printable ASCII without spaces, as the engine's token file
// holds it: two tokens of the role on two lines, as awk reads a token
// file, could go in no header, at every attempt.
if (/[^\x21-\x7e]/.test(opt.token)) {
  fail('the token has a character that is not printable ASCII' + (opt.token.includes('\n') ? ' (a line break: two provider tokens in the file?)' : ''));
}

// Bounds of the server, those docs/engine.md gives engine/provider's
// ("A provider's server"): a call's body is a provider's answer (16 MiB)
// and the call's other fields; anyone who reaches the port can send one.
const MAX_CALL_BYTES = 16 * 1024 * 1024 + 64 * 1024;
const SHUTDOWN_MS = 10_000; // time the calls in flight have once we stop
const CALL_TOKEN_WAIT_MS = 10_000; // a call may come before our registration's answer

// ---- The handlers: what examples/provider/main.go does. ----

// An error of class permanent fails the step at once; any other is
// retried by the step's retry policy ("The protocol": error.class).
class Permanent extends Error {}

const handlers = {
  // The Go step Reconcile of flow Billing: "ok" or the declared "disputed".
  'Billing.Reconcile': {
    outcomes: ['disputed'],
    async run(call, signal) {
      const amount = call.state.Amount;
      if (typeof amount !== 'number') throw new Permanent('state: Amount is not a number'); // no retry can fix it
      // LedgerDown: N makes the first N attempts meet an unavailable
      // ledger, a failure worth retrying (a test hook, by the run's input).
      if (call.attempt <= (call.state.LedgerDown || 0)) throw new Error('ledger unavailable');
      if (opt.hang) await new Promise((resolve) => signal.addEventListener('abort', resolve));
      if (amount > 1000) return { outcome: 'disputed' };
      return { state: { ...call.state, Reconciled: true }, outcome: 'ok' };
    },
  },
  // Its Go rollback: undo the reconciliation.
  'Billing.Unreconcile': {
    rollback: true,
    async run(call) {
      const state = { ...call.state };
      delete state.Reconciled;
      return { state };
    },
  },
};

// ---- The lease. ----

let callToken = null; // the registration's call credential: only the engine has it
let registering = null; // the registration in flight, if any
let stopping = false;
let baseURL = null; // where the engine reaches this process

function leaseURL(path) {
  return `${engineURL}/providers/${encodeURIComponent(opt.name)}${path}?replica=${encodeURIComponent(replica)}`;
}

async function engineRequest(method, path, body) {
  const headers = { 'Content-Type': 'application/json' }; // every POST and PUT of the API must say so (415)
  if (opt.token) headers.Authorization = `Bearer ${opt.token}`;
  const res = await fetch(leaseURL(path), {
    method, headers, redirect: 'error', signal: AbortSignal.timeout(10_000),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* an answer without a body (204) */ }
  return { status: res.status, json, text };
}

// forNow says whether the engine's answer refuses a registration or a
// renewal for now only, so that it is sent again: 5xx, 429 (too many
// requests) and 408 (a request timed out: a load balancer's, in front of
// the engine), as engine/provider reads them. Another 4xx is final.
function forNow(status) {
  return status >= 500 || status === 408 || status === 429;
}

// register PUTs this replica's handlers; the answer's call_token is what
// the engine's calls carry from then on (each PUT issues another). An
// engine that is not there yet, or refuses for now (forNow), is asked
// again after a backoff; another refusal (400, 403, 409) is final.
function register() {
  registering ??= (async () => {
    const reg = {
      ttl: `${ttlSeconds}s`,
      handlers: Object.entries(handlers).map(([name, h]) => ({
        name, url: `${baseURL}/call/${encodeURIComponent(name)}`,
        ...(h.rollback ? { rollback: true } : { outcomes: h.outcomes }),
      })),
    };
    for (let wait = 100; ; wait = Math.min(2 * wait, (ttlSeconds * 1000) / 3)) {
      // A SIGTERM during the wait below: shutdown has withdrawn this
      // replica, and a registration now would be granted a lease for a
      // replica about to exit.
      if (stopping) throw new Error('stopping');
      let res;
      try {
        res = await engineRequest('PUT', '', reg);
      } catch (err) {
        res = { status: 0, text: err.message };
      }
      if (res.status === 200) {
        callToken = res.json.call_token;
        for (const w of res.json.warnings || []) log(`warning: ${w}`);
        log(`registered ${opt.name} replica ${replica}`);
        return;
      }
      if (res.status >= 400 && res.status < 500 && !forNow(res.status)) throw new Error(`register: ${res.status} ${res.text.trim()}`);
      log(`not registered yet: ${res.status || ''} ${res.text.trim()}`);
      await sleep(wait);
    }
  })().finally(() => { registering = null; });
  return registering;
}

// keepLease renews the lease three times per TTL, so that one lost
// renewal does not end it; a 404 means the engine no longer has it
// (it restarted, or the lease expired): register again. A refusal for
// now (forNow: 429, 408, 5xx, the engine's or a proxy's): try again at
// the next turn. Another 4xx (403: an admin replaced the lease; 401: our token was
// taken out) means that serving on would serve no one: stop.
async function keepLease() {
  while (!stopping) {
    await sleep((ttlSeconds * 1000) / 3);
    if (stopping) return;
    let res;
    try {
      res = await engineRequest('POST', '/renew');
    } catch (err) {
      log(`renew: ${err.message}`); // the engine is unreachable: try again at the next turn
      continue;
    }
    try {
      if (res.status === 404) await register();
      else if (res.status >= 400 && res.status < 500 && !forNow(res.status)) throw new Error(`renew: ${res.status} ${res.text.trim()}`);
      else if (res.status !== 200) log(`renew: ${res.status} ${res.text.trim()}`);
    } catch (err) {
      log(`${err.message}; stopping`);
      return shutdown(1);
    }
  }
}

// ---- The calls. ----

// tokenMatches compares the Authorization header with the call token in
// constant time: SHA-256 digests have one length whatever was sent, and
// timingSafeEqual takes as long wherever they differ.
function tokenMatches(header) {
  if (callToken === null) return false;
  const digest = (s) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(header || ''), digest(`Bearer ${callToken}`));
}

// authorized answers whether the call carries our call token. A call may
// carry a token we do not know yet: the engine calls as soon as it grants
// a registration, before its answer reaches us, so wait for it.
async function authorized(req) {
  const deadline = Date.now() + CALL_TOKEN_WAIT_MS;
  while (!tokenMatches(req.headers.authorization)) {
    if (registering === null || Date.now() > deadline) return false;
    await Promise.race([registering.catch(() => {}), sleep(deadline - Date.now())]);
  }
  return true;
}

let inFlight = 0;

async function serveCall(req, res) {
  const name = decodeURIComponent(req.url.replace(/^\/call\//, ''));
  const handler = Object.hasOwn(handlers, name) && req.url.startsWith('/call/') ? handlers[name] : null;
  // Refuse before reading the body, and close the connection: who is not
  // the engine neither makes us read a body nor keeps a connection.
  if (req.method !== 'POST') return refuse(res, 405, 'POST only');
  if (!(await authorized(req))) return refuse(res, 401, 'no valid call token');
  if (!handler) return refuse(res, 404, 'no such handler');
  if (Number(req.headers['content-length']) > MAX_CALL_BYTES) return refuse(res, 413, 'call too large');

  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_CALL_BYTES) return refuse(res, 413, 'call too large');
    chunks.push(chunk);
  }
  let call;
  try {
    call = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return answer(res, { error: { message: 'the call is not JSON', class: 'permanent' } });
  }
  if (call.version !== 1 || call.handler !== name) {
    return answer(res, { error: { message: `version ${call.version} of handler ${call.handler} is not served here`, class: 'permanent' } });
  }
  if (call.state === null || typeof call.state !== 'object') call.state = {};
  note(call);

  // The handler's work ends at the call's deadline: the engine stops
  // waiting then, and the step's retry policy decides what follows.
  const abort = new AbortController();
  const left = call.deadline ? Date.parse(call.deadline) - Date.now() : Infinity;
  const timer = Number.isFinite(left) ? setTimeout(() => abort.abort(), Math.max(left, 0)) : null;
  try {
    const out = await handler.run(call, abort.signal);
    if (abort.signal.aborted) return res.destroy(); // too late: no one reads an answer
    answer(res, { state: out.state, outcome: out.outcome ?? 'ok' }); // no state: the run's stays
  } catch (err) {
    // An error is an answer too (200): its class says whether to retry.
    answer(res, { error: { message: err.message, class: err instanceof Permanent ? 'permanent' : 'retryable' } });
  } finally {
    clearTimeout(timer);
  }
}

function answer(res, body) {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function refuse(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' });
  res.end(JSON.stringify({ error: message }));
}

// note appends "pid replica handler key attempt" to --call-log, one line
// per call, so that a test sees which process got which attempt.
function note(call) {
  if (opt['call-log']) {
    fs.appendFileSync(opt['call-log'], `${process.pid} ${replica} ${call.handler} ${call.idempotency_key} ${call.attempt}\n`);
  }
}

// ---- Start and stop. ----

const server = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
  inFlight++;
  res.on('close', () => { inFlight--; });
  serveCall(req, res).catch((err) => {
    log(`call: ${err.message}`);
    if (!res.headersSent) refuse(res, 500, 'internal error');
  });
});
server.headersTimeout = 10_000; // time to send a request's headers
server.requestTimeout = 30_000; // a whole call, body included
server.keepAliveTimeout = 60_000; // an idle keep-alive connection
server.maxConnections = 1024;

// shutdown withdraws this replica first, so that the engine sends its
// next calls to the other replicas, then closes the listener once the
// calls in flight are answered (a call sent before the withdrawal still
// comes here), for at most SHUTDOWN_MS.
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  try {
    const res = await engineRequest('DELETE', '');
    if (res.status !== 204 && res.status !== 404) log(`withdraw: ${res.status} ${res.text.trim()}`);
    else log(`withdrew ${opt.name} replica ${replica}`);
  } catch (err) {
    log(`withdraw: ${err.message}`); // the lease expires on its own
  }
  server.close();
  server.closeIdleConnections();
  const until = Date.now() + SHUTDOWN_MS;
  while (inFlight > 0 && Date.now() < until) await sleep(20);
  process.exit(code);
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

// Loopback only: the engine on this machine is the one caller. Port 0
// lets the system choose a free port, which the registration names.
server.listen(0, '127.0.0.1', async () => {
  baseURL = `http://127.0.0.1:${server.address().port}`;
  log(`listening on ${baseURL}`);
  try {
    await register();
  } catch (err) {
    if (stopping) return; // a SIGTERM while registering: shutdown exits
    fail(err.message);
  }
  keepLease();
});

function log(msg) {
  console.log(`provider-node: ${msg}`);
}

function fail(msg) {
  console.error(`provider-node: ${msg}`);
  process.exit(1);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
