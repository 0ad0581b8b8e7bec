#!/usr/bin/env python3
"""A remote provider of flowgen's Parcel flow (parcel.json), in Python 3 with
the standard library only, written from docs/engine.md#remote-providers.

It listens on loopback, registers its Go steps and Go rollback with
`flowgen serve` (PUT /providers/{name}?replica=ID) with a lease, renews it
every third of its TTL (registering again on a 404), checks the call token
of every call in constant time before it reads a body or looks up its
handler, answers a named
outcome and the two error classes, replays the answer of work already done
under an idempotency key (of the last MAX_ANSWERS keys), stops working at a call's deadline, and on SIGTERM
or SIGINT withdraws its replica, then answers the calls in flight.

    FLOWGEN_PROVIDER_TOKEN=... python3 provider.py -engine http://127.0.0.1:8080

Each call is logged as one JSON line to -log (if given): pid, handler,
rollback, step, key, attempt and result.
"""

import argparse
import calendar
import collections
import hmac
import http.server
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PROTOCOL_VERSION = 1  # provider.Version
# A call's body read at most: an answer's 16 MiB (the engine's bound), whose
# state the next call carries, and 64 KiB for the call's other members.
MAX_BODY = (16 << 20) + (64 << 10)
TOKEN_WAIT = 10.0  # a call that comes before its registration's answer waits this long for the token
# A connection that sends nothing (or stalls sending) this long is closed:
# anyone who reaches the port can open one, and each holds a thread.
READ_TIMEOUT = 10.0
SHUTDOWN = 10.0  # time the calls in flight have once the provider stops, as engine/provider's
# Connections held at once, busy or idle (a thread each), as engine/provider's
# server (provider.DefaultMaxConns): beyond, new ones wait in the kernel's
# listen backlog until one closes (-max-conns).
MAX_CONNS = 1024
# Answers kept for a later attempt under the same key, at most (the oldest
# go first): enough for the retries of the calls of the last while, not a
# record of every call ever served.
MAX_ANSWERS = 10000


class Retryable(Exception):
    """The attempt failed; the step's retry policy tries again."""


class Permanent(Exception):
    """The step fails at once, without retries."""


class Final(Exception):
    """The engine refused the registration for good (a 4xx but 408 and 429)."""


def for_now(status):
    """Whether the engine's answer refuses a registration or renewal for now
    only, so that it is sent again: 5xx, 429 (too many requests) and 408 (a
    request timed out: a load balancer's, in front of the engine), as
    engine/provider reads them. Another 4xx is final."""
    return status >= 500 or status in (408, 429)


def parse_deadline(s):
    """An RFC 3339 UTC time as the engine writes it ("2026-01-15T09:00:10.25Z") to
    seconds since the epoch. Written out, since datetime.fromisoformat takes "Z"
    and short fractions only from Python 3.11."""
    if not s.endswith("Z"):
        raise ValueError("deadline %r is not in UTC" % s)
    whole, _, frac = s[:-1].partition(".")
    t = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) + (float("0." + frac) if frac else 0.0)


class Call:
    """One call of a handler: the request's members, and the state to change."""

    def __init__(self, req):
        self.run_id = req["run_id"]
        self.flow = req["flow"]
        self.step = req["step"]
        self.handler = req["handler"]
        self.rollback = bool(req.get("rollback", False))
        self.key = req["idempotency_key"]
        self.attempt = req["attempt"]
        self.state = req["state"]
        self.deadline = parse_deadline(req["deadline"]) if req.get("deadline") else None

    def remaining(self):
        """Seconds until the engine stops waiting (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.time()


class Provider:
    def __init__(self, name, engine, token, replica, ttl, base_url, log_file):
        self.name, self.engine, self.token = name, engine.rstrip("/"), token
        self.replica, self.ttl, self.base_url, self.log_file = replica, ttl, base_url, log_file
        self.handlers = {}  # (name, rollback) -> (fn, outcomes)
        # idempotency key -> the answer of the work done under it, oldest
        # first, at most MAX_ANSWERS
        self.answers = collections.OrderedDict()
        # idempotency key -> [lock, calls holding or awaiting it]: a
        # duplicate waits for the call in flight; the entry goes with the
        # last of them, so there is one per key in flight, not per key seen.
        self.key_locks = {}
        self.mu = threading.Lock()
        self.log_mu = threading.Lock()
        # The call token of the registration; registering is True while a PUT
        # is in flight, whose answer carries the token the calls will bear.
        self.token_cond = threading.Condition()
        self.call_token = None
        self.registering = False
        self.stopping = threading.Event()

    def step(self, name, fn, outcomes=()):
        self.handlers[(name, False)] = (fn, list(outcomes))

    def rollback_handler(self, name, fn):
        self.handlers[(name, True)] = (fn, [])

    def handler_url(self, name, rollback):
        return "%s/%s/%s" % (self.base_url, "rollback" if rollback else "step", urllib.parse.quote(name, safe=""))

    # --- the engine's API -------------------------------------------------

    def api(self, method, path, body=None):
        """Sends a request to the engine: (status, decoded JSON or None).
        Raises OSError when the engine does not answer."""
        url = self.engine + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")  # every POST and PUT, or 415
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                raw = res.read()
                return res.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, None

    def lease_path(self, suffix=""):
        return "/providers/%s%s?replica=%s" % (
            urllib.parse.quote(self.name, safe=""),
            suffix,
            urllib.parse.quote(self.replica, safe=""),
        )

    def register(self):
        """PUTs the registration until the engine answers it: backoff from 100ms
        doubling to a third of the TTL while it does not answer or answers 5xx,
        429 or 408 (for_now); another 4xx raises Final."""
        handlers = []
        for (name, rollback), (_, outcomes) in sorted(self.handlers.items()):
            h = {"name": name, "url": self.handler_url(name, rollback)}
            if rollback:
                h["rollback"] = True
            else:
                h["outcomes"] = outcomes
            handlers.append(h)
        body = {"ttl": "%gs" % self.ttl, "handlers": handlers}
        backoff = 0.1
        while not self.stopping.is_set():
            with self.token_cond:
                self.registering = True
            try:
                status, lease = self.api("PUT", self.lease_path(), body)
            except OSError as e:
                status, lease = None, str(e)
            with self.token_cond:
                self.registering = False
                if status == 200:
                    self.call_token = lease["call_token"]
                self.token_cond.notify_all()
            if status == 200:
                for w in lease.get("warnings") or []:
                    log("engine warns: %s" % w)
                log("registered %s replica %s until %s" % (self.name, self.replica, lease["expires"]))
                return
            if status is not None and 400 <= status < 500 and not for_now(status):
                raise Final("registration refused: %s %s" % (status, lease))
            log("registration not answered (%s %s); again in %.1fs" % (status, lease, backoff))
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, self.ttl / 3)

    def keep_lease(self):
        """Registers, then renews every third of the TTL (on this clock: the
        lease's "expires" is the engine's), so that one lost renewal does not
        end the lease."""
        try:
            self.register()
            while not self.stopping.wait(self.ttl / 3):
                try:
                    status, lease = self.api("POST", self.lease_path("/renew"))
                except OSError as e:
                    log("renewal not answered (%s); again at the next turn" % e)
                    continue
                if status == 200:
                    continue
                if status == 404:  # the engine restarted, or the lease expired
                    log("lease gone (404): registering again")
                    self.register()
                elif for_now(status):
                    log("renewal answered %s; again at the next turn" % status)
                else:  # 403: an admin replaced the lease; 401: our token was taken out
                    raise Final("renewal refused: %s %s" % (status, lease))
        except Final as e:
            log(str(e))
            self.stopping.set()
        except Exception as e:  # a bug, or a request that cannot be sent: stop, rather than serve with no lease
            log("lease: %s: %s" % (type(e).__name__, e))
            self.stopping.set()

    def withdraw(self):
        try:
            status, _ = self.api("DELETE", self.lease_path())
            log("withdrawn (%s)" % status)
        except OSError as e:
            log("withdrawal not answered: %s" % e)

    # --- the calls ------------------------------------------------------------

    def authorized(self, header):
        """Whether the Authorization header bears the registration's call token,
        compared in constant time. A call that arrives before the answer to its
        registration waits for it."""
        with self.token_cond:
            self.token_cond.wait_for(lambda: not self.registering, timeout=TOKEN_WAIT)
            token = self.call_token
        if token is None or header is None:
            return False
        return hmac.compare_digest(header.encode(), ("Bearer " + token).encode())

    def serve_call(self, name, rollback, req):
        """Runs the handler of one call and returns the answer to send."""
        fn, outcomes = self.handlers[(name, rollback)]
        c = Call(req)
        with self.mu:
            entry = self.key_locks.setdefault(c.key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:  # a duplicate of a call in flight waits for it, then replays it
                return self.serve_locked(c, fn, outcomes, rollback)
        finally:
            with self.mu:
                entry[1] -= 1
                if entry[1] == 0:
                    del self.key_locks[c.key]

    def keep(self, key, answer):
        """Keeps answer for a later attempt under key, forgetting the oldest past MAX_ANSWERS."""
        with self.mu:
            self.answers[key] = answer
            self.answers.move_to_end(key)
            while len(self.answers) > MAX_ANSWERS:
                self.answers.popitem(last=False)

    def serve_locked(self, c, fn, outcomes, rollback):
        """serve_call's work, under the lock of c's key."""
        with self.mu:
            done = self.answers.get(c.key)
        if done is not None:
            self.note(c, "replay")
            return done
        left = c.remaining()
        if left is not None and left <= 0:
            # The engine stopped waiting: the attempt has timed out, and
            # work begun now would be answered to no one.
            self.note(c, "deadline")
            return error_answer("the deadline passed before the call began", "retryable")
        try:
            outcome = fn(c) or ""
        except LostReply:
            # The work is done but its answer never reaches the engine:
            # keep it for the retry, and fail this attempt as a lost
            # reply does (a 5xx is a retryable transport failure).
            self.keep(c.key, {"state": c.state, "outcome": ""})
            self.note(c, "reply-lost")
            return LOST
        except Permanent as e:
            self.note(c, "permanent")
            return error_answer(str(e), "permanent")
        except Exception as e:  # noqa: BLE001 - any other failure is worth a retry
            late = c.remaining() is not None and c.remaining() <= 0
            # Past the deadline the engine has closed the call: this
            # answer reaches no one, and the next attempt comes under
            # the same key.
            self.note(c, "deadline" if late else "retryable")
            return error_answer(str(e), "retryable")
        if not rollback and outcome not in ("", "ok") and outcome not in outcomes:
            # The engine would fail the step at once; say why here too.
            self.note(c, "undeclared outcome " + outcome)
        answer = {"state": c.state}
        if not rollback:
            answer["outcome"] = outcome
        # The work is done: a later attempt under this key (the engine did
        # not get this answer) gets the same answer, and the work is not
        # done again.
        self.keep(c.key, answer)
        self.note(c, "ok" if outcome in ("", "ok") else "outcome " + outcome)
        return answer

    def note(self, c, result):
        if not self.log_file:
            return
        line = json.dumps(
            {"pid": os.getpid(), "handler": c.handler, "rollback": c.rollback, "step": c.step,
             "key": c.key, "attempt": c.attempt, "result": result}
        )
        with self.log_mu, open(self.log_file, "a") as f:
            f.write(line + "\n")


def error_answer(message, cls):
    return {"error": {"message": message, "class": cls}}


def log(msg):
    print("provider: " + msg, file=sys.stderr, flush=True)


class BoundedServer(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer that holds at most max_conns connections at
    once: at the bound its loop accepts nothing more until one closes, so
    new ones wait in the kernel's listen backlog; ThreadingHTTPServer alone
    starts a thread for every connection anyone opens."""

    # server_close joins no connection's thread: a connection that sends
    # nothing would keep the process up until its client closed it. The
    # calls in flight are waited for instead (CallHandler.wait_calls).
    daemon_threads = True

    def __init__(self, addr, handler, max_conns):
        super().__init__(addr, handler)
        self.max_conns = max_conns
        self.slots = threading.BoundedSemaphore(max_conns)
        self.closing = threading.Event()  # set before shutdown: a waiting accept gives up
        self.said_full = None  # when the bound was last logged (once a minute at most)

    def get_request(self):
        # serve_forever calls this when a connection waits to be accepted:
        # waiting for a slot before accepting leaves it in the backlog, so
        # no connection is held beyond the bound, not even one unserved.
        if not self.slots.acquire(blocking=False):
            now = time.monotonic()
            if self.said_full is None or now - self.said_full >= 60:
                self.said_full = now
                log("%d connections open, the bound (-max-conns): new ones wait until one closes" % self.max_conns)
            while not self.slots.acquire(timeout=0.2):
                if self.closing.is_set():
                    raise OSError("stopping")  # serve_forever accepts nothing then
        try:
            return super().get_request()
        except BaseException:
            self.slots.release()
            raise

    def shutdown_request(self, request):
        # Called once for each connection accepted, whichever way it ends
        # (served, refused by verify_request, or its thread not started).
        try:
            super().shutdown_request(request)
        finally:
            self.slots.release()


class CallHandler(http.server.BaseHTTPRequestHandler):
    """POST /step/NAME and /rollback/NAME: the engine's calls."""

    provider = None  # set by serve()
    timeout = READ_TIMEOUT  # socketserver's: each read and write on the connection
    # The calls in flight (a request read, its answer not yet written), which
    # the provider waits for when it stops; an idle or silent connection is
    # not one, and does not keep it from stopping.
    in_flight = 0
    in_flight_cond = threading.Condition()

    def do_POST(self):
        with CallHandler.in_flight_cond:
            CallHandler.in_flight += 1
        try:
            self.serve_post()
        finally:
            with CallHandler.in_flight_cond:
                CallHandler.in_flight -= 1
                CallHandler.in_flight_cond.notify_all()

    @classmethod
    def wait_calls(cls, timeout):
        """Waits until no call is in flight, at most timeout seconds."""
        with cls.in_flight_cond:
            cls.in_flight_cond.wait_for(lambda: cls.in_flight == 0, timeout)

    def serve_post(self):
        p = self.provider
        parts = self.path.split("/")
        if len(parts) != 3 or parts[0] != "" or parts[1] not in ("step", "rollback"):
            return self.reply(404, {"error": {"message": "no such handler", "class": "permanent"}})
        name, rollback = urllib.parse.unquote(parts[2]), parts[1] == "rollback"
        # The token first: a caller without it learns nothing, not even
        # which handlers this provider has.
        if not p.authorized(self.headers.get("Authorization")):
            self.close_connection = True  # the body is not read
            return self.reply(401, {"error": {"message": "not the engine's call token", "class": "retryable"}})
        if (name, rollback) not in p.handlers:
            return self.reply(404, {"error": {"message": "no such handler", "class": "permanent"}})
        try:
            body = self.read_body()
            req = json.loads(body)
            if not isinstance(req, dict) or req.get("version") != PROTOCOL_VERSION:
                raise ValueError("not a version %d call" % PROTOCOL_VERSION)
            if req.get("handler") != name or bool(req.get("rollback", False)) != rollback:
                raise ValueError("the call names another handler than its URL")
            if not isinstance(req.get("state"), dict):
                raise ValueError("state is not an object")
        except BodyTooLarge:
            self.close_connection = True
            return self.reply(413, None)
        except (ValueError, KeyError) as e:
            self.close_connection = True
            return self.reply(400, {"error": {"message": str(e), "class": "permanent"}})
        except OSError:  # the caller stalled (READ_TIMEOUT) or left: no one to answer
            self.close_connection = True
            return
        answer = p.serve_call(name, rollback, req)
        if answer is LOST:
            return self.reply(503, None)
        self.reply(200, answer)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_chunked()
        n = int(self.headers.get("Content-Length", "0"))
        if n > MAX_BODY:
            raise BodyTooLarge()
        return self.rfile.read(n)

    def read_chunked(self):
        out = bytearray()
        while True:
            size = int(self.rfile.readline(64).split(b";")[0].strip(), 16)
            if len(out) + size > MAX_BODY:
                raise BodyTooLarge()
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline(8)  # the chunk's CRLF

    def reply(self, status, obj):
        body = b"" if obj is None else json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The engine stopped waiting (the call's deadline passed) and
            # closed the connection: it took no answer.
            self.close_connection = True

    def log_message(self, fmt, *args):
        pass  # each call is noted in -log; keep stderr for the lease


class BodyTooLarge(Exception):
    pass


LOST = object()  # serve_call's answer for a reply that is lost


# --- the Parcel flow's handlers ----------------------------------------------

stock_mu = threading.Lock()
reservations = {}  # reservation ID -> "held" or "released"


def reserve(c):
    """Parcel.Reserve: holds stock. LoseReply makes the first attempt's answer
    fail after the work is done (a proxy's 503, say): the retry, under the same
    idempotency key, gets the same reservation, not a second one."""
    with stock_mu:
        rid = "R%d" % (len(reservations) + 1)
        reservations[rid] = "held"
    c.state["Reservation"] = rid
    if c.state.get("LoseReply") and c.attempt == 1:
        raise LostReply()
    return ""


class LostReply(Exception):
    """Raised after the work is done: its answer is lost (answered 503, as a
    proxy between the engine and us might)."""


def charge(c):
    """Charge: the card decides. "declined" is the step's named outcome (the
    flow sends it to fail, so Reserve is rolled back); "stolen" a permanent
    error; "flaky" a retryable error on the first attempt; "slow" a bank that
    does not answer before the deadline on the first attempt."""
    card = c.state.get("Card", "")
    if card == "declined":
        return "declined"
    if card == "stolen":
        raise Permanent("card reported stolen")
    if card == "flaky" and c.attempt == 1:
        raise Retryable("bank unavailable")
    if card == "slow" and c.attempt == 1:
        # Wait for the bank no longer than the engine waits for us.
        left = c.remaining()
        if left is not None:
            time.sleep(max(left, 0) + 0.01)
        raise Retryable("the bank did not answer before the deadline")
    c.state["Charged"] = True
    return ""


def release(c):
    """Release, Reserve's rollback: gives the stock back."""
    rid = c.state.get("Reservation")
    with stock_mu:
        if rid in reservations:
            reservations[rid] = "released"
    c.state["Released"] = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-engine", default="http://127.0.0.1:8080", help="the flow service's URL")
    ap.add_argument("-name", default="parcel", help="the provider's name")
    ap.add_argument("-replica", default="%s-%06x" % (socket.gethostname(), random.getrandbits(24)),
                    help="this process's replica ID (default: host name and a random suffix)")
    ap.add_argument("-ttl", type=float, default=30, help="the lease's TTL in seconds (1 to 600)")
    ap.add_argument("-listen", default="127.0.0.1:0", help="where to serve the calls")
    ap.add_argument("-url", default="", help="the callback base URL (default: http://LISTEN)")
    ap.add_argument("-log", default="", help="a file to append a JSON line to for each call")
    ap.add_argument("-linger", type=float, default=1,
                    help="seconds it still takes calls after its withdrawal (one sent before it may come after)")
    ap.add_argument("-max-conns", type=int, default=MAX_CONNS,
                    help="connections held at once, busy or idle; beyond, new ones wait until one closes")
    args = ap.parse_args()
    if args.max_conns < 1:
        ap.error("-max-conns must be at least 1")
    token = os.environ.get("FLOWGEN_PROVIDER_TOKEN", "")  # a provider role's token; not in argv, which ps shows
    # A token is printable ASCII without spaces, as the engine's token file
    # holds it: two tokens of the role on two lines, as awk reads a token
    # file, could go in no header, at every attempt.
    if any(not 0x21 <= ord(c) <= 0x7e for c in token):
        ap.error("FLOWGEN_PROVIDER_TOKEN has a character that is not printable ASCII"
                 + (" (a line break: two provider tokens in the file?)" if "\n" in token else ""))

    host, _, port = args.listen.rpartition(":")
    server = BoundedServer((host, int(port)), CallHandler, args.max_conns)
    base = args.url.rstrip("/") or "http://%s:%d" % (host, server.server_address[1])

    p = Provider(args.name, args.engine, token, args.replica, args.ttl, base, args.log)
    p.step("Parcel.Reserve", reserve)
    p.step("Charge", charge, outcomes=["declined"])
    p.rollback_handler("Release", release)
    CallHandler.provider = p

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("listening %s" % base, flush=True)
    lease = threading.Thread(target=p.keep_lease, daemon=True)
    lease.start()
    while not stop.wait(0.2):
        if p.stopping.is_set():  # the lease was refused for good
            break
    p.stopping.set()
    p.withdraw()
    # A call the engine sent before the withdrawal may still arrive: serve a
    # little longer, then stop accepting and wait for the calls in flight,
    # at most SHUTDOWN seconds: the engine takes a call cut short then
    # for a failed attempt, and calls again under the same key.
    time.sleep(args.linger)
    server.closing.set()
    server.shutdown()
    server.server_close()
    CallHandler.wait_calls(SHUTDOWN)
    return 0 if stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
