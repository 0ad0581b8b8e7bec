// flowgen web view: one page, views chosen by the URL's fragment:
//   #/runs?flow=F&status=S&since=T&until=T&correlation=V   the runs, filtered, a page at a time
//   #/run/ID                                              one run
//   #/flows                                               the flows' diagrams
//   #/flows/NAME                                          one flow's diagram (a call step links to its child flow's)
//   #/deadletters?topic=T&event=E&order=oldest            the dead letters, newest first (or oldest), a page at a time (for a role that may read them)
// It reads everything from the engine's HTTP API (same origin) with the
// bearer token the user gives, kept in sessionStorage, and follows changes
// through GET /watch (server-sent events, read with fetch so that the
// token goes in the Authorization header: no cookie, so nothing another
// site can make the browser send). No dependencies; works offline.
(function () {
  "use strict";

  var TOKEN_KEY = "flowgen.token";
  var PAGE = 25;
  // RECONNECT_MS is the pause before a GET /watch stream that ended, or
  // could not open, is tried again, unless the server said how long.
  var RECONNECT_MS = 1500;
  // POLL_MS is how often a view reads again on a server without GET /watch.
  var POLL_MS = 5000;
  // HISTORY_PAGE is the events a run's page asks for at a time (GET
  // /runs/{id}/history?limit=): the most the server answers
  // (engine.MaxHistoryLimit).
  var HISTORY_PAGE = 1000;
  // TIMELINE_ROWS is the events a run's timeline shows at a time.
  var TIMELINE_ROWS = 1000;
  // CHILD_ROWS is the child runs a run's page lists (GET
  // /runs/{id}/children?limit=), and reads the states of (GET
  // /runs/{child} each), at a time: a call in a loop starts a child at
  // each turn, thousands in a long run.
  var CHILD_ROWS = 25;
  // DIAGRAM_MARGIN is how near the window a flow's card on the flows page
  // must come for its diagram to be read: a little ahead of the scroll.
  var DIAGRAM_MARGIN = "200px 0px";
  var session = null; // GET /session: role, auth, routes (the caller may use), states
  var cleanup = [];   // what the current view must stop when it is left
  var liveBy = null;  // the watch the live badge shows, if any

  // ---- small DOM helpers -------------------------------------------------
  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    });
    (kids || []).forEach(function (k) { if (k !== null && k !== undefined) e.appendChild(typeof k === "string" ? document.createTextNode(k) : k); });
    return e;
  }
  function fmtTime(t) {
    if (!t || t.indexOf("0001-") === 0) return "";
    var d = new Date(t);
    if (isNaN(d)) return t;
    return d.toISOString().replace("T", " ").replace("Z", "").slice(0, 23) + " UTC";
  }
  // fromNow says how far time t is from now, on the browser's clock:
  // "in 12 s", "in 4 min 5 s", "in 2 h 5 min", or "due" once it passed.
  // An element of class "until" with t in data-at counts down (a tick a
  // second, below): a run in a retry's backoff records no event until
  // its attempt ends, so nothing else would redraw it.
  function fromNow(t) {
    var s = Math.ceil((new Date(t) - Date.now()) / 1000);
    if (!(s > 0)) return "due";
    if (s < 60) return "in " + s + " s";
    if (s < 3600) return "in " + Math.floor(s / 60) + " min " + s % 60 + " s";
    return "in " + Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
  }
  function until(t) { return el("span", { "class": "until", "data-at": t, text: "(" + fromNow(t) + ")" }); }
  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".until[data-at]"), function (e) { setText(e, "(" + fromNow(e.getAttribute("data-at")) + ")"); });
  }, 1000);
  // nextAttempt says when the next attempt of a step, a branch or a
  // rollback in a retry's backoff starts (runtime.Status.RetryAt,
  // Branch.RetryAt: the time its retry recorded), or nothing when it
  // does not back off.
  function nextAttempt(attempt, at) {
    if (!at || !fmtTime(at)) return "";
    return el("span", null, ["attempt " + attempt + " at " + fmtTime(at) + " ", until(at)]);
  }
  // filterTime reads a time of GET /runs's ?since= or ?until= as the API
  // does (engine's moreFilters: Go's time.Parse with time.RFC3339Nano),
  // as a Date, or null for one the API refuses with 400. new Date is
  // looser (2026-01-15, a space for the T, no zone) and would show a
  // filter the list does not get. Go takes RFC 3339 and, beyond it, an
  // hour of one digit, a comma before the fraction, and a zone of up to
  // 24:60; TestBrowserFilterTimeParsesAsTheAPI checks both agree.
  function filterTime(v) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/.exec(v || "");
    if (!m) return null;
    var n = m.map(Number), y = n[1], mo = n[2], day = n[3];
    var days = new Date(Date.UTC(2000, mo, 0)).getUTCDate(); // of month mo in a leap year
    if (mo === 2 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) days = 28;
    if (mo < 1 || mo > 12 || day < 1 || day > days || n[4] > 23 || n[5] > 59 || n[6] > 59 || n[9] > 24 || n[10] > 60) return null;
    var d = new Date(Date.UTC(2000, mo - 1, day, n[4], n[5], n[6], Number(((m[7] || "") + "00").slice(0, 3))));
    d.setUTCFullYear(y); // Date.UTC reads years 0 to 99 as 1900 to 1999
    if (m[8]) d = new Date(d.getTime() - (m[8] === "-" ? -1 : 1) * (n[9] * 60 + n[10]) * 60000);
    return d;
  }
  // wide puts a table in a box of its own that scrolls sideways, so that
  // in a narrow window the table scrolls rather than the page.
  function wide(table) { return el("div", { "class": "wide" }, [table]); }
  // runLink links a run of the API's {flow, run_id}, named with its flow.
  function runLink(r, id) {
    return el("span", null, [el("a", { id: id, "class": "mono", href: "#/run/" + encodeURIComponent(r.run_id), text: r.run_id }), " of flow " + r.flow]);
  }
  // breakable lets a name wrap between its words (ShipTo|Customer) and
  // after a machine state's colon (Pack:|running): the branches' table
  // fits its column with names of up to 128 bytes, and the timeline's
  // From → To is sized so.
  function breakable(s) {
    var kids = [], part = "";
    Array.from(s || "").forEach(function (ch, i, all) {
      if (part && (/[A-Z]/.test(ch) && /[a-z0-9]/.test(all[i - 1]) || all[i - 1] === ":")) { kids.push(part, el("wbr")); part = ""; }
      part += ch;
    });
    if (part) kids.push(part);
    return kids;
  }
  // setText shows s in e, leaving e's text as it is when it already
  // shows s: text replaced, even by the same, loses the user's selection
  // in it (a value being copied), at every live redraw.
  function setText(e, s) { if (e.textContent !== s) e.textContent = s; }
  // patchRows makes tbody's rows those of rows (new elements, in order),
  // keeping each row shown already (the same data-key) and, of a row that
  // changed, each cell that did not: a list read anew at each event of any
  // run would otherwise replace every row, and with them the text the user
  // selected to copy, and the focus.
  function patchRows(tbody, rows) {
    var old = {};
    Array.prototype.forEach.call(tbody.rows, function (tr) { var k = tr.getAttribute("data-key"); if (k) old[k] = tr; });
    rows = rows.map(function (fresh) {
      var was = old[fresh.getAttribute("data-key")];
      if (!was || was.cells.length !== fresh.cells.length || was.className !== fresh.className) return fresh;
      delete old[fresh.getAttribute("data-key")];
      patchKids(was, fresh);
      return was;
    });
    rows.forEach(function (tr, i) { if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null); });
    while (tbody.rows.length > rows.length) tbody.deleteRow(rows.length);
  }
  // patchKids makes old's children those of fresh, keeping in its place
  // each that is the same (by its markup: children with no listeners of
  // their own): a child replaced, even by the same, loses the user's
  // selection in it. The same ones are matched in order, so none kept is
  // moved, even when a child comes or goes between them (a run's head
  // gains an Attempt row while a step runs, and loses it again).
  function patchKids(old, fresh) {
    var was = Array.prototype.slice.call(old.children), at = 0;
    var want = Array.prototype.slice.call(fresh.children).map(function (k) {
      for (var i = at; i < was.length; i++) if (was[i].outerHTML === k.outerHTML) { at = i + 1; return was[i]; }
      return k;
    });
    was.forEach(function (k) { if (want.indexOf(k) < 0) k.remove(); });
    want.forEach(function (k, i) { if (old.children[i] !== k) old.insertBefore(k, old.children[i] || null); });
  }
  function badge(state) { return el("span", { "class": "state state-" + state, text: state }); }
  function notice(msg) {
    var n = $("#notice");
    n.textContent = msg || "";
    n.hidden = !msg;
    readNotice = false;
  }
  function throttle(fn, ms) {
    var timer = null, again = false;
    return function () {
      if (timer) { again = true; return; }
      fn();
      timer = setTimeout(function tick() {
        timer = null;
        if (again) { again = false; fn(); timer = setTimeout(tick, ms); }
      }, ms);
    };
  }
  // inOrder keeps a paged list's reads from showing a late answer: each
  // read takes a ticket (ask(cursor), cursor: the page it reads), and its
  // answer is shown only if late(ticket) is false: no answer of a read
  // asked after it was shown already (answers may come in any order),
  // and the page it read is still the one the view shows (current()), so
  // that a live refresh still under way when Next was clicked does not
  // put the page left behind back, under the new page's number.
  function inOrder(current) {
    var asked = 0, shown = 0;
    return {
      ask: function (cursor) { return { n: ++asked, cursor: cursor }; },
      late: function (t) {
        if (t.n < shown || t.cursor !== current()) return true;
        shown = t.n;
        return false;
      }
    };
  }
  // takesAbort: an abort of a run in this state changes what it does (not
  // over, not rolling back: runtime.RunState.TakesAbort, by GET /session).
  function takesAbort(state) {
    return (session.states || []).some(function (s) { return s.name === state && s.takes_abort; });
  }
  // ended: a run in this state is over and records nothing more
  // (runtime.RunState.Terminal, by GET /session).
  function ended(state) {
    return (session.states || []).some(function (s) { return s.name === state && s.terminal; });
  }

  // ---- the API -------------------------------------------------------------
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  function headers(extra) {
    var h = extra || {};
    if (token()) h["Authorization"] = "Bearer " + token();
    return h;
  }
  // DOES says what each route the page uses does (its pattern, as GET
  // /session lists it), for the words of a refusal.
  var DOES = {
    "GET /session": "read the session",
    "GET /runs": "list the runs",
    "GET /runs/{id}": "read the run",
    "GET /runs/{id}/history": "read the run's history",
    "GET /runs/{id}/children": "list the run's child runs",
    "GET /runs/{id}/diagram": "read the run's diagram",
    "GET /flows": "list the flows",
    "GET /flows/{flow}/diagram": "read the flow's diagram",
    "GET /watch": "follow the live updates",
    "GET /deadletters": "read the dead letters",
    "POST /runs/{id}/abort": "abort the run"
  };
  // NeedLogin: the page was signed out (the sign-in form says why).
  // Forbidden: a 403 the page has answered (the session read again, the
  // notice saying why). Either way the request's caller shows nothing
  // more (answered).
  function NeedLogin(msg) { this.message = msg; }
  function Forbidden(msg) { this.message = msg; }
  function answered(e) { return e instanceof NeedLogin || e instanceof Forbidden; }
  // signOuts counts the times the page was signed out (showLogin). A
  // request sent signed in (sent: sentIn()) whose answer comes once the
  // page was signed out since (Sign out, a 401; two reads refused at
  // once, a view's read late) is answered with NeedLogin and nothing
  // shown (outdated): the view it was for is gone, and its token may be
  // one given before. A refusal of it would sign out the user signed in
  // since, or read their session and say a read of theirs was refused;
  // an answer drawn would use the session that is no more. start's
  // GET /session, sent signed out, is never outdated.
  var signOuts = 0;
  function sentIn() { return session ? signOuts : -1; }
  function outdated(sent) { return sent >= 0 && sent !== signOuts; }
  // refusal is the one place where the page answers a request the API
  // refused for its credentials, whichever it was (a read of a view's,
  // the live stream opening again, an abort): route is the request's
  // pattern. A 401 (the token taken out of the tokens file) signs the page
  // out, the form saying the API's reason; so does a 403 to GET /session
  // (a role that may read nothing here: a provider's), the form saying
  // first what after says (the refusal that had the page read the
  // session). Another 403 is forbidden's. A refusal that comes once the
  // page is signed out is outdated: the form keeps saying the first. It
  // answers a promise that rejects with NeedLogin or Forbidden, or null
  // when res is no refusal.
  function refusal(res, route, after) {
    if (res.status !== 401 && res.status !== 403) return null;
    return res.json().catch(function () { return {}; }).then(function (b) {
      var why = b.error || (res.status === 401 ? "sign in" : res.status + " " + res.statusText);
      if (res.status === 403 && route !== "GET /session") return forbidden(why, route);
      showLogin(after ? after + ". Your token may read nothing here now: " + why + ". Sign in with another." : why);
      throw new NeedLogin(why);
    });
  }
  // forbidden answers a 403 (why: the API's reason) to the route: the
  // page read the session when it started, and the token's role may have
  // changed since (given another in the tokens file, reloaded). It reads
  // the session again and, when the role may no longer use the route,
  // draws the view anew, offering only what the role may now do (no
  // Abort, no link it may not follow, a view it may not read saying so);
  // a role that may still use it (an authorizer of its own that refused
  // this one request) keeps the view as it is, which would read and be
  // refused again, in a loop. The notice says what was refused and why; a
  // read's goes at the next read that succeeds, as failed's does.
  function forbidden(why, pattern) {
    var what = DOES[pattern] || pattern, said = "The server refused to " + what + " (" + pattern + "): " + why;
    return api("GET", "/session", { route: "GET /session", after: said }).then(function (s) {
      var gone = s.routes.indexOf(pattern) < 0;
      showSession(s);
      if (gone) route();
      notice(gone ? said + ". Your role is now " + s.role + ", which may not " + what + ": the page no longer offers it." : said);
      readNotice = !gone && pattern.indexOf("GET ") === 0;
      throw new Forbidden(said);
    }, function (e) {
      if (e instanceof NeedLogin) throw e;
      notice(said); // the session unread (the server down): the refusal still said
      throw new Forbidden(said);
    });
  }
  // api answers the response's JSON (or text; with opts.raw, the JSON's
  // text), or throws an Error with the API's message. opts.route is the
  // request's pattern: a 401 or 403 is refusal's.
  function api(method, path, opts) {
    opts = opts || {};
    var init = { method: method, headers: headers(), cache: "no-store" };
    if (method !== "GET") { init.headers["Content-Type"] = "application/json"; init.body = opts.body || ""; }
    var sent = sentIn();
    return fetch(path, init).then(function (res) {
      if (outdated(sent)) throw new NeedLogin("signed out since it was sent");
      var r = refusal(res, opts.route, opts.after);
      if (r) return r;
      var ct = res.headers.get("Content-Type") || "";
      var body = ct.indexOf("application/json") === 0 && !opts.raw ? res.json() : res.text();
      return body.then(function (b) {
        if (!res.ok) {
          if (typeof b === "string") { try { b = JSON.parse(b); } catch (e) { b = null; } }
          var err = new Error((b && b.error) || (res.status + " " + res.statusText));
          err.status = res.status;
          throw err;
        }
        return b;
      });
    });
  }
  // failed shows why a request failed. With read, the request is a read
  // that the view makes again (a live view's, at each event and each time
  // its stream opens): the notice then goes at the view's next read that
  // succeeds (readOK), since what it said (a server restarting, say) is
  // over; another's (an abort refused) stays until the user moves on.
  var readNotice = false;
  function failed(err, read) {
    if (answered(err)) return;
    notice(String(err && err.message || err));
    readNotice = !!read;
  }
  function readOK() { if (readNotice) notice(""); }

  // STREAM_REFUSED is why a stream ended with event: unauthorized was
  // refused, in a refusal's words: the event says no more.
  var STREAM_REFUSED = "it ended the stream, the token's credentials refused (event: unauthorized)";
  // watch follows GET /watch?query: onEvent(data) for each recorded event
  // and each abort accepted;
  // onOpen() each time the stream (re)opens, when the view reads what it
  // shows again (events may have been missed while it was closed), and
  // once if the stream cannot open at first (the server at its bound of
  // streams), so that a view waiting to go live is not blank meanwhile.
  // A tab hidden (another in front of it, its window minimised) lets its
  // stream go, and opens it again, reading what it shows, when it is
  // shown: over HTTP/1.1 (serve without TLS) a browser opens at most six
  // connections to a server, and each open stream holds one, so that tabs
  // left open on six runs would make every request of every tab wait.
  function watch(query, onEvent, onOpen) {
    if (session && session.routes.indexOf("GET /watch") < 0) return poll(onOpen);
    var stopped = false, ctrl = null, timer = null, read = false, me = {}, asleep = false, polled = null;
    var notBefore = 0; // a stream refused with Retry-After opens again no sooner, shown or not
    liveBy = me;
    // The badge is shown while a view follows the API: "live" while the
    // stream is open, "reconnecting" while it is not, "paused" while the
    // server asked the page to wait (pause: the seconds, or 0). A view
    // that follows nothing (the sign-in form) has none: it would read as
    // if the server were down.
    function live(on, pause) {
      if (liveBy !== me) return; // a watch stopped, ending late
      var l = $("#live");
      l.className = "live " + (on ? "on" : pause ? "off paused" : "off");
      l.textContent = on ? "live" : pause ? "paused" : "reconnecting\u2026";
      l.title = on ? "live updates (server-sent events)" : pause ?
        "live updates paused: the server is busy; the page tries again in " + pause + " s" :
        "live updates interrupted; the page tries again";
      l.hidden = stopped;
    }
    function handle(block) {
      var ev = "message", data = [];
      block.split("\n").forEach(function (line) {
        if (line === "" || line[0] === ":") return;
        var i = line.indexOf(":"), field = i < 0 ? line : line.slice(0, i), value = i < 0 ? "" : line.slice(i + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "event") ev = value;
        else if (field === "data") data.push(value);
      });
      if (ev === "overflow") return "reconnect";
      if (ev === "unauthorized") return "refused";
      // run: an event a run recorded; abort: an abort accepted, which
      // the run records only once its step in flight returns; flow: a
      // flow defined, or defined anew.
      if (ev === "run" || ev === "abort" || ev === "flow") { try { onEvent(JSON.parse(data.join("\n"))); } catch (e) { /* not ours */ } }
      return "";
    }
    function loop() {
      timer = null;
      if (stopped) return;
      if (document.hidden) {
        asleep = true;
        if (!read) { read = true; onOpen(); } // a tab opened behind another shows its view
        return;
      }
      ctrl = new AbortController();
      var wait = 0; // the Retry-After of a refusal, in seconds
      // state=false: the page reads which run moved, never an event's
      // state from the stream (a run's is read with GET /runs/{id}).
      var sent = sentIn();
      fetch("/watch?" + (query ? query + "&" : "") + "state=false", { headers: headers(), signal: ctrl.signal, cache: "no-store" }).then(function (res) {
        if (outdated(sent)) throw new NeedLogin("signed out since it was sent");
        // Refused (401, 403): signed out, or the session read again; a
        // view drawn anew has stopped this watch.
        var r = refusal(res, "GET /watch");
        if (r) return r;
        if (!res.ok || !res.body) {
          wait = retryAfter(res.headers.get("Retry-After"));
          throw new Error("watch: " + res.status);
        }
        live(true);
        read = true;
        onOpen();
        var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return;
            buf += dec.decode(r.value, { stream: true }).replace(/\r\n?/g, "\n");
            var i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              var block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              var h = handle(block);
              if (h === "reconnect") { ctrl.abort(); return; }
              // The engine asked the authorizer again (the tokens file
              // reloaded) and was refused: the stream's end is the
              // refusal, answered now as a 403 to it is (the session
              // read again: a 401 to it signs the page out), not once
              // the stream, opened again after its pause, is refused in
              // turn; that opening may wait (Retry-After, a slow proxy).
              if (h === "refused") { ctrl.abort(); return forbidden(STREAM_REFUSED, "GET /watch"); }
            }
            return pump();
          });
        }
        return pump();
      }).catch(function (e) {
        if (e instanceof NeedLogin) stopped = true;
        // Refused (403, Forbidden) to a role that may still follow it (an
        // authorizer of its own; one that may not had the view drawn
        // anew, which stopped this watch): opened again, it would be
        // refused again, the session read again each time, for ever,
        // and the view would show what it read once. It reads what it
        // shows every POLL_MS instead, as on a server with no stream.
        else if (e instanceof Forbidden && !stopped) {
          stopped = true;
          polled = poll(onOpen, "the server refused this page's live updates (" + e.message + "): the page reads again every " + POLL_MS / 1000 + " s");
        }
      }).then(function () {
        ctrl = null;
        live(false, wait);
        if (stopped) return;
        if (!read) { read = true; onOpen(); }
        notBefore = Date.now() + wait * 1000;
        if (document.hidden) { asleep = true; return; }
        timer = setTimeout(loop, wait ? wait * 1000 : RECONNECT_MS);
      });
    }
    function visibility() {
      if (stopped) return;
      if (document.hidden) { if (ctrl) ctrl.abort(); return; } // the stream's end puts it asleep
      if (asleep) { asleep = false; clearTimeout(timer); timer = setTimeout(loop, Math.max(0, notBefore - Date.now())); }
    }
    document.addEventListener("visibilitychange", visibility);
    loop();
    return function () {
      if (polled) polled();
      stopped = true; clearTimeout(timer); if (ctrl) ctrl.abort(); live(false); liveBy = null;
      document.removeEventListener("visibilitychange", visibility);
    };
  }
  // poll stands for watch on a server that sends no live events (GET
  // /session does not list GET /watch: flowgen-temporal serve, whose runs
  // record their events on Temporal), or that refused this page's stream
  // (why: the badge's title then): the view reads what it shows now and
  // every POLL_MS, and the badge says so rather than "live".
  function poll(onOpen, why) {
    var me = {}, l = $("#live");
    liveBy = me;
    l.className = "live off polling";
    l.textContent = "polling";
    l.title = why || "this server sends no live updates (its runs record their events elsewhere): the page reads again every " + POLL_MS / 1000 + " s";
    l.hidden = false;
    onOpen();
    var timer = setInterval(onOpen, POLL_MS);
    return function () { clearInterval(timer); if (liveBy === me) { l.hidden = true; liveBy = null; } };
  }
  // retryAfter reads a Retry-After header of the seconds form (the engine
  // sends it with a 503 when its GET /watch streams are at their bound,
  // engine.WatchRetryAfter): the seconds to wait, at least RECONNECT_MS
  // and at most a minute, so that a wrong value neither hammers the
  // server nor stops the page for good; 0 for none, or for an HTTP date.
  function retryAfter(h) {
    if (!/^\s*\d+\s*$/.test(h || "")) return 0;
    return Math.min(Math.max(parseInt(h, 10), RECONNECT_MS / 1000), 60);
  }

  // ---- sign-in -------------------------------------------------------------
  // showLogin signs the page out (Sign out, or a token the API refused):
  // the sign-in form and nothing else. The view is left, its watch
  // stopped; the navigation, the role, Sign out and any notice go, since
  // every link would lead only to a 401 (the links come back with the
  // next session, for its role).
  function showLogin(msg) {
    leave();
    session = null;
    signOuts++;
    notice("");
    $("#nav").hidden = true;
    $("#who").textContent = "";
    $("#signout").hidden = true;
    titled("Sign in");
    $("#login").hidden = false;
    $("#view").hidden = true;
    $("#login-error").textContent = token() ? msg : "";
    $("#token").focus();
  }
  function hideLogin() { $("#login").hidden = true; $("#view").hidden = false; }
  $("#login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = $("#token").value.trim();
    // A token that no HTTP header can carry (pasted with a typographic
    // quote, say) is never sent: fetch refuses it, at every request, with
    // a message of its own. The form says why instead, and keeps nothing.
    // The browser's rule, not the server's: the server judges the rest.
    try { new Headers({ Authorization: "Bearer " + t }); } catch (e) {
      $("#login-error").textContent = "This token cannot be sent: it holds a character that an HTTP header cannot carry (a typographic quote or a character of another alphabet, pasted with it?). Give it again.";
      $("#token").select();
      return;
    }
    $("#login-error").textContent = "";
    sessionStorage.setItem(TOKEN_KEY, t);
    $("#token").value = "";
    start();
  });
  $("#signout").addEventListener("click", function () {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("");
  });

  // ---- diagrams --------------------------------------------------------------
  // showDiagram puts an SVG of graph.SVG into box (its <style> dropped: the
  // page links diagram.css; the policy allows that style, by its hash, only
  // so that parsing it is no violation), with the details of a clicked box
  // in details.
  function showDiagram(box, svgText, details) {
    var doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    var svg = doc.documentElement;
    if (!svg || svg.nodeName !== "svg") { box.textContent = "no diagram"; return; }
    Array.prototype.forEach.call(svg.querySelectorAll("style"), function (s) { s.remove(); });
    svg = document.importNode(svg, true);
    // Emptying the box would scroll it back to the top left: a live
    // redraw keeps where the user scrolled to, the box picked (lit, its
    // details beside it) and the box the keyboard is on.
    var top = box.scrollTop, left = box.scrollLeft;
    var picked = nodeOf(box.querySelector(".fg-selected")), focused = nodeOf(box.contains(document.activeElement) ? document.activeElement : null);
    var focusedAt = focused ? centre(box, boxOf(box, focused)) : null;
    box.textContent = "";
    box.appendChild(svg);
    box.scrollTop = top;
    box.scrollLeft = left;
    if (details) {
      flowgenDiagram.attach(svg, function (n) {
        details.textContent = "";
        if (!n) return;
        details.appendChild(el("h3", { text: n.name }));
        if (n.doc) details.appendChild(el("p", { text: n.doc }));
        if (n.lines.length) details.appendChild(el("pre", { "class": "mono", text: n.lines.join("\n") }));
        // A call (or a rollback call) runs another flow: its diagram is a click away.
        if (n.call) details.appendChild(el("p", null, ["Runs flow ",
          el("a", { "class": "call-link mono", href: "#/flows/" + encodeURIComponent(n.call), text: n.call }), " as a child run."]));
      });
      // The details shown stay (a box's details do not change with the
      // run's path), unless the box is gone from the new diagram (a flow
      // defined anew).
      var p = boxOf(svg, picked);
      flowgenDiagram.select(svg, p);
      if (picked && !p) details.textContent = "";
    }
    // A box the keyboard was on that is gone from the new diagram (its
    // flow defined anew: PUT /flows) hands the focus to the box nearest
    // to where it was, rather than to the page's body, from where the
    // keyboard would have to come all the way back.
    var f = boxOf(svg, focused) || (focusedAt ? nearest(box, svg, focusedAt) : null);
    if (f) f.focus({ preventScroll: true });
  }
  // centre is where the middle of box g is in the diagram's box, scrolled
  // or not.
  function centre(box, g) {
    var b = box.getBoundingClientRect(), r = g.getBoundingClientRect();
    return { x: r.left - b.left + box.scrollLeft + r.width / 2, y: r.top - b.top + box.scrollTop + r.height / 2 };
  }
  // nearest is the box of svg (in the diagram's box) whose middle is
  // nearest to at; null for none.
  function nearest(box, svg, at) {
    var best = null, dist = Infinity;
    Array.prototype.forEach.call(svg.querySelectorAll(".fg-node"), function (g) {
      var c = centre(box, g), d = (c.x - at.x) * (c.x - at.x) + (c.y - at.y) * (c.y - at.y);
      if (d < dist) { best = g; dist = d; }
    });
    return best;
  }
  // keepFocus runs draw, which empties boxes and fills them anew, and
  // gives the focus back to the element it was on in one of them (the
  // same id, or a link to the same place), else to that box itself: the
  // old element gone, the focus would fall to the page's body, from where
  // a keyboard user would Tab through the whole page again.
  function keepFocus(boxes, draw) {
    var a = document.activeElement, box = boxes.filter(function (b) { return b.contains(a); })[0];
    var href = a && a.getAttribute && a.getAttribute("href");
    var key = !box ? null : a.id ? "#" + CSS.escape(a.id) : href ? 'a[href="' + CSS.escape(href) + '"]' : null;
    draw();
    if (!box || box.contains(document.activeElement)) return;
    var again = key && box.querySelector(key);
    if (!again) { box.setAttribute("tabindex", "-1"); again = box; }
    again.focus({ preventScroll: true });
  }
  // pager says whether a list's Previous and Next may be pressed. The one
  // the keyboard is on that no longer may (Next on the last page) hands
  // the focus to the other, or to their bar if neither may: disabled, it
  // would drop the focus to the page's body.
  // refusedList empties a list's table after the server refused its
  // filter (a 4xx: a value it does not take, which the form shows as the
  // link gave it, saying so), whatever the list showed before: the notice
  // says why, the list that nothing is listed for it. It returns whether
  // e was such a refusal (not a server's failure, a 5xx or none).
  function refusedList(e, tbody, cols, id, what) {
    if (!e.status || e.status >= 500) return false;
    tbody.textContent = "";
    tbody.appendChild(el("tr", null, [el("td", { colspan: String(cols), "class": "muted", id: id,
      text: "No " + what + " listed: the server refused this filter (the reason is above). Change the filter, or Clear it." })]));
    return true;
  }
  // pageGone says whether e, the answer to the read of a list's page after
  // the first (cursor: its cursor), is the server's refusal of the cursor:
  // the run or the dead letter it continues after is gone (the store's
  // retention removed it), and the list is read again from its first
  // page. A filter the server refuses it refused on the first page.
  function pageGone(e, cursor) { return !!cursor && e.status === 400; }
  function pager(prev, prevOn, next, nextOn) {
    var a = document.activeElement;
    prev.disabled = !prevOn;
    next.disabled = !nextOn;
    if (!(a === prev && !prevOn) && !(a === next && !nextOn)) return;
    var to = a === prev ? next : prev;
    if (to.disabled) { to = a.parentNode; to.setAttribute("tabindex", "-1"); }
    to.focus({ preventScroll: true });
  }
  // nodeOf names the box g of a diagram ("" for none); boxOf finds it by
  // that name in svg (null for none).
  function nodeOf(g) { var n = g && g.closest(".fg-node"); return n ? n.getAttribute("data-node") : ""; }
  function boxOf(svg, node) { return node ? svg.querySelector('.fg-node[data-node="' + CSS.escape(node) + '"]') : null; }

  // lit is the box a run's diagram lights: what runs or waits now, else
  // the branch or the step (or rollback) that failed (a failed block's
  // branch that failed, which says why, before the block), else the step
  // an abort cut short, else the final state; null for none.
  function lit(box) {
    return box.querySelector(".fg-current") || box.querySelector(".fg-branch.fg-failed") || box.querySelector(".fg-failed") || box.querySelector(".fg-interrupted") || box.querySelector(".fg-done");
  }
  // litKey names what the diagram lights, to tell when the run moved.
  function litKey(box) {
    return Array.prototype.map.call(box.querySelectorAll(".fg-current"), function (g) { return g.getAttribute("data-node"); }).join(" ") ||
      (lit(box) ? lit(box).getAttribute("data-node") : "");
  }
  // showLit scrolls the diagram's box (not the page) so that its lit box
  // is in the middle: a flow taller or wider than the box would otherwise
  // hide the step a run is at.
  function showLit(box) {
    var g = lit(box);
    if (!g) return;
    var b = box.getBoundingClientRect(), r = g.getBoundingClientRect();
    box.scrollTop += r.top - b.top - Math.max(0, (box.clientHeight - r.height) / 2);
    box.scrollLeft += r.left - b.left - Math.max(0, (box.clientWidth - r.width) / 2);
  }

  // ---- views -------------------------------------------------------------------
  function leave() {
    cleanup.forEach(function (f) { f(); });
    cleanup = [];
  }
  function parseHash() {
    var h = location.hash.replace(/^#/, "") || "/runs";
    var q = "", i = h.indexOf("?");
    if (i >= 0) { q = h.slice(i + 1); h = h.slice(0, i); }
    return { parts: h.split("/").filter(Boolean).map(decode), query: new URLSearchParams(q) };
  }
  // decode is decodeURIComponent, or s as it is where a "%" starts no
  // escape (a link typed or cut short), which would throw.
  function decode(s) {
    try { return decodeURIComponent(s); } catch (e) { return s; }
  }
  // route shows the view the URL's fragment names. A view drawn anew
  // (a filter applied: Filter pressed, the dead letters' Order changed,
  // which applies itself as the arrow keys change it) gives the focus
  // back to the control the keyboard was on, by its id: dropped to the
  // page's body, it would leave a keyboard user at the top of the page.
  function route() {
    var was = $("#view").contains(document.activeElement) ? document.activeElement.id : "";
    show();
    var again = was && document.getElementById(was);
    if (again && $("#view").contains(again)) again.focus();
  }
  function show() {
    if (!session) return;
    leave();
    notice("");
    var r = parseHash(), view = $("#view");
    view.textContent = "";
    $("#nav-runs").className = r.parts[0] === "runs" || r.parts[0] === "run" ? "active" : "";
    $("#nav-flows").className = r.parts[0] === "flows" ? "active" : "";
    $("#nav-deadletters").className = r.parts[0] === "deadletters" ? "active" : "";
    if (r.parts[0] === "run" && r.parts[1]) { titled("Run " + r.parts[1]); return mayRead(view, "Run " + r.parts[1], "GET /runs/{id}") && runView(view, r.parts[1]); }
    if (r.parts[0] === "flows") { titled(r.parts[1] ? "Flow " + r.parts[1] : "Flows"); return mayRead(view, "Flows", "GET /flows") && flowsView(view, r.parts[1]); }
    if (r.parts[0] === "deadletters") {
      titled("Dead letters");
      return mayRead(view, "Dead letters", "GET /deadletters", ": they hold the payloads of every publisher") && deadLettersView(view, r.query);
    }
    titled(r.query.get("flow") ? "Runs of " + r.query.get("flow") : "Runs");
    return mayRead(view, "Runs", "GET /runs") && runsView(view, r.query);
  }
  // mayRead says whether the session lists the route a view reads (its
  // pattern), and if not puts in view, under its title, that the role
  // may not (why: more of the reason) in place of the view: the page asks
  // the API for nothing its role may not read, and a view drawn anew
  // after a 403 (forbidden) is not refused again, in a loop.
  function mayRead(view, title, route, why) {
    if (session.routes.indexOf(route) >= 0) return true;
    view.appendChild(el("h1", { text: title }));
    view.appendChild(el("div", { "class": "empty", id: "view-refused",
      text: "Your role (" + session.role + ") may not " + DOES[route] + " (" + route + ")" + (why || "") + "." }));
    return false;
  }
  // keptCursors are the cursors of the pages of a list seen (for
  // Previous) that the history entry keeps (keepCursors), or [""] (the
  // first page): Back to a list comes back to the page it showed.
  function keptCursors() {
    var kept = history.state && history.state.cursors;
    return Array.isArray(kept) && kept.length ? kept.slice() : [""];
  }
  function keepCursors(cursors) { history.replaceState({ cursors: cursors.slice() }, "", location.href); }
  // titled names the view in the window's title: tabs (a run opened in a
  // new tab) and the history's entries then say what they show.
  function titled(what) { document.title = what + " \u00b7 flowgen"; }

  // The runs, filtered, a page at a time, live.
  function runsView(view, q) {
    var filters = ["flow", "status", "since", "until", "correlation"];
    // The cursor of each page seen, for Previous: kept in the history
    // entry's state as well, so that Back from a run opened on page 3
    // comes back to page 3, not to the first.
    var cursors = keptCursors();
    function keep() { keepCursors(cursors); }
    var form = el("form", { "class": "filters", id: "filters" });
    // The flow the URL filters by is an option from the start, registered
    // or not (a flow gone after a restart whose runs the store keeps, a
    // link typed): Filter, before the flows are read or after, keeps it.
    var wanted = q.get("flow") || "";
    var wantedOpt = wanted ? el("option", { value: wanted, text: wanted }) : null;
    var flowSel = el("select", { name: "flow", id: "f-flow" }, [el("option", { value: "", text: "any flow" }), wantedOpt]);
    flowSel.value = wanted;
    var stateSel = el("select", { name: "status", id: "f-status" }, [el("option", { value: "", text: "any state" }), el("option", { value: "active", text: "active (not over)" })]);
    (session.states || []).forEach(function (s) { stateSel.appendChild(el("option", { value: s.name, text: s.name })); });
    // A state the URL filters by that is none of the server's (a link
    // typed or cut short) is shown too, saying so, as a flow not
    // registered is: a select showing nothing would hide what was asked.
    // GET /runs refuses it (400), and the list says so.
    var wantedState = q.get("status") || "";
    if (wantedState && !Array.prototype.some.call(stateSel.options, function (o) { return o.value === wantedState; })) {
      stateSel.appendChild(el("option", { value: wantedState, text: wantedState + " (unknown state)" }));
    }
    function local(v) { // a time GET /runs takes to the value of a datetime-local input (UTC); "" for none
      var d = filterTime(v);
      return d ? d.toISOString().slice(0, 19) : "";
    }
    var since = el("input", { type: "datetime-local", step: "1", name: "since", id: "f-since", value: local(q.get("since")) });
    var until = el("input", { type: "datetime-local", step: "1", name: "until", id: "f-until", value: local(q.get("until")) });
    // A time the URL filters by that is no time GET /runs takes
    // (filterTime: a link typed or cut short, a date without its time) is
    // one the input cannot show: blank, it would read as no
    // filter. It is marked, and said beside the input as the link gave
    // it, as a state unknown is in its select; GET /runs refuses it
    // (400), and the list says so. Filter with the input left empty
    // drops it, as "any state" drops a state.
    function timeField(key, text, input) {
      var given = q.get(key) || "", shown = !given || local(given);
      if (!shown) { input.setAttribute("aria-invalid", "true"); input.title = given + " is not a time"; }
      return el("label", null, [text, input, shown ? null : el("span", { "class": "given-bad mono", id: input.id + "-given", title: given, text: given + " (not a time)" })]);
    }
    var corr = el("input", { type: "text", name: "correlation", id: "f-correlation", placeholder: "e.g. an order ID", value: q.get("correlation") || "" });
    form.appendChild(el("label", null, ["Flow", flowSel]));
    form.appendChild(el("label", null, ["State", stateSel]));
    form.appendChild(timeField("since", "Started from (UTC)", since));
    form.appendChild(timeField("until", "Started before (UTC)", until));
    form.appendChild(el("label", null, ["Correlation value", corr]));
    form.appendChild(el("button", { type: "submit", id: "f-apply", text: "Filter" }));
    form.appendChild(el("button", { type: "button", id: "f-clear", text: "Clear", onclick: function () { location.hash = "#/runs"; } }));
    stateSel.value = wantedState;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var out = new URLSearchParams();
      if (flowSel.value) out.set("flow", flowSel.value);
      if (stateSel.value) out.set("status", stateSel.value);
      // A time the link gave, finer than the second the input shows, is
      // kept while the input still shows it: Filter would otherwise move
      // it to its second, taking in runs the link left out. The input
      // reads a whole minute without its seconds (10:00, not 10:00:00):
      // it is compared as a time, not as text.
      [["since", since], ["until", until]].forEach(function (f) {
        var v = f[1].value, given = q.get(f[0]), at = v ? new Date(v + "Z").toISOString() : "";
        if (v) out.set(f[0], given && at.slice(0, 19) === local(given) ? given : at);
      });
      if (corr.value.trim()) out.set("correlation", corr.value.trim());
      var h = "#/runs" + (out.toString() ? "?" + out : "");
      // A filter lists from the first page.
      if (location.hash === h) { history.replaceState(null, "", location.href); route(); } else location.hash = h;
    });
    var table = el("table", { id: "runs" }, [el("thead", null, [el("tr", null, ["Run", "Flow", "State", "Step", "Correlation", "Events", "Started", "Updated"].map(function (h) { return el("th", { text: h }); }))])]);
    var tbody = el("tbody");
    table.appendChild(tbody);
    var prev = el("button", { type: "button", id: "prev", text: "← Previous", disabled: true });
    var next = el("button", { type: "button", id: "next", text: "Next →", disabled: true });
    var pageInfo = el("span", { "class": "muted" });
    // GET /runs says "truncated" when the executor read as many runs as
    // one list may (on Temporal, 10,000 workflows): runs may be missing.
    var cutShort = el("p", { id: "truncated", "class": "cut-short", hidden: true,
      text: "This list is cut short: the service read as many runs as one list may, so runs may be missing. Narrow it by flow, state or start time." });
    view.appendChild(form);
    view.appendChild(cutShort);
    view.appendChild(wide(table));
    view.appendChild(el("div", { "class": "pager" }, [prev, next, pageInfo]));

    // The flows to filter by, read with the runs until a read succeeds
    // (a list opened while the server was down gets them once it is
    // back), and again each time the stream opens again: a flow defined
    // while it was closed (the tab behind another, the server restarting)
    // sent no event. A read adds the flows it lists that are not yet
    // options (flowDefined), whatever order the answers come in.
    var flowsShown = false, flowsStale = true;
    function readFlows() {
      if (!flowsStale) return;
      flowsStale = false;
      api("GET", "/flows", { route: "GET /flows" }).then(function (b) {
        var first = !flowsShown;
        flowsShown = true;
        (b.flows || []).forEach(function (f) { flowDefined(f.name); });
        var registered = (b.flows || []).some(function (f) { return f.name === wanted; });
        if (first && wantedOpt && !registered) wantedOpt.textContent = wanted + " (not registered)";
      }).catch(function (e) { flowsStale = true; failed(e, true); });
    }
    // flowDefined adds a flow defined while the list is open (an event
    // flow of its stream) to the flows to filter by, in name order; a
    // filter by it is no longer "not registered". No runs moved.
    function flowDefined(name) {
      if (!flowsShown) return; // the read under way, or the next, lists it
      if (name === wanted) { if (wantedOpt) wantedOpt.textContent = wanted; return; }
      var opts = Array.prototype.slice.call(flowSel.options, 1);
      if (opts.some(function (o) { return o.value === name; })) return;
      var listed = opts.filter(function (o) { return o !== wantedOpt; });
      var after = listed.filter(function (o) { return o.value < name; }).pop();
      flowSel.insertBefore(el("option", { value: name, text: name }), after ? after.nextSibling : listed[0] || null);
    }

    // listRuns fills the table with a page of GET /runs.
    function listRuns(b) {
      var rows = [];
      (b.runs || []).forEach(function (r) {
        // A click anywhere on the row opens the run, but not one on
        // its link, which opens it by itself (in a new tab, with Ctrl
        // or Cmd: this tab stays on the list), nor the end of a drag
        // that selected text to copy (a correlation value, say).
        var tr = el("tr", { "class": "clickable", "data-run": r.run_id, "data-key": r.run_id, onclick: function (ev) {
          if (ev.target.closest("a") || String(window.getSelection())) return;
          location.hash = "#/run/" + encodeURIComponent(r.run_id);
        } }, [
          el("td", { "class": "mono" }, [el("a", { href: "#/run/" + encodeURIComponent(r.run_id), text: r.run_id })]),
          el("td", { text: r.flow }),
          el("td", null, [badge(r.state), r.abort_requested ? el("span", { "class": "state state-pending-abort abort-pending", text: "abort pending", title: "an abort accepted that the run has yet to take" }) : null]),
          // One line, as in a run's timeline: a long name cut with an
          // ellipsis, whole in its title.
          el("td", { "class": "mono step-col" }, [r.step ? el("div", { "class": "one-line", title: r.step, text: r.step }) : null]),
          el("td", { "class": "mono", text: r.correlation || "" }),
          el("td", { text: String(r.events) }),
          el("td", { "class": "time", text: fmtTime(r.started) }),
          el("td", { "class": "time", text: fmtTime(r.updated) })
        ]);
        rows.push(tr);
      });
      if (!b.runs || !b.runs.length) rows.push(el("tr", null, [el("td", { colspan: "8", "class": "muted", text: "No runs match." })]));
      patchRows(tbody, rows);
    }
    var nextCursor = "", reads = inOrder(function () { return cursors[cursors.length - 1]; });
    function load() {
      readFlows();
      var p = new URLSearchParams();
      filters.forEach(function (k) { if (q.get(k)) p.set(k, q.get(k)); });
      p.set("order", "newest"); // a new run lands on the first page
      p.set("limit", String(PAGE));
      var cur = cursors[cursors.length - 1], ticket = reads.ask(cur);
      if (cur) p.set("cursor", cur);
      return api("GET", "/runs?" + p, { route: "GET /runs" }).then(function (b) {
        if (reads.late(ticket)) return;
        readOK();
        // Read anew at each event of any run: the run's link the keyboard
        // is on keeps the focus.
        keepFocus([tbody], function () { listRuns(b); });
        nextCursor = b.next_cursor || "";
        pager(prev, cursors.length > 1, next, !!nextCursor);
        pageInfo.textContent = "page " + cursors.length;
        cutShort.hidden = !b.truncated;
      }).catch(function (e) {
        if (pageGone(e, cur) && !reads.late(ticket)) { cursors = [""]; keep(); return load(); }
        failed(e, true);
        // A filter the server refused (400: a state or a time it does
        // not take) lists nothing.
        if (!reads.late(ticket) && refusedList(e, tbody, 8, "runs-refused", "runs")) pager(prev, !prev.disabled, next, false);
      });
    }
    next.addEventListener("click", function () { if (nextCursor) { cursors.push(nextCursor); keep(); load(); } });
    prev.addEventListener("click", function () { if (cursors.length > 1) { cursors.pop(); keep(); load(); } });
    var refresh = throttle(load, 300);
    var wq = new URLSearchParams();
    if (q.get("flow")) wq.set("flow", q.get("flow"));
    cleanup.push(watch(wq.toString(), function (ev) {
      if (ev && ev.flow && !ev.run_id) flowDefined(ev.flow); // event: flow
      else refresh();
    }, function () { flowsStale = true; refresh(); }));
  }

  // One run: its path on the diagram, its timeline, states, waits,
  // branches and child runs, live; Abort for an admin.
  function runView(view, id) {
    var selected = 0; // the seq of the event whose snapshot is shown; 0: the latest
    var armedUntil = 0; // the Abort button asks for confirmation until then
    var head = el("div", { "class": "run-head", id: "run-head" });
    // Until its first read answers, the diagram's box says it is loading
    // and keeps a diagram's room, as a flow's card does, not empty.
    var diagram = el("div", { "class": "diagram unread", id: "run-diagram", "aria-busy": "true", text: "loading the diagram\u2026" });
    function diagramRead() { diagram.classList.remove("unread"); diagram.removeAttribute("aria-busy"); }
    var details = el("div", { "class": "node-details" });
    var waitBox = el("div", { id: "run-wait" });
    var branches = el("div", { id: "run-branches" });
    // The child runs: CHILD_ROWS of them at a time, read a page at a time
    // (GET /runs/{id}/children, newest first: kidsCursors holds the
    // cursor of each page seen, "" the latest's), the latest followed as
    // the timeline's events are, with a pager of their own once there are
    // more.
    var kidsList = el("div");
    var kidsEarlier = el("button", { type: "button", id: "kids-earlier", text: "← Earlier", onclick: function () { if (kidsNext) { kidsCursors.push(kidsNext); readKids(); } } });
    var kidsLater = el("button", { type: "button", id: "kids-later", text: "Later →", onclick: function () { if (kidsCursors.length > 1) { kidsCursors.pop(); readKids(); } } });
    var kidsLatest = el("button", { type: "button", id: "kids-latest", text: "Latest", onclick: function () { kidsCursors = [""]; readKids(); } });
    var kidsInfo = el("span", { "class": "muted", id: "kids-info" });
    var kidsPager = el("div", { "class": "pager", id: "kids-pager", hidden: true }, [kidsEarlier, kidsLater, kidsLatest, kidsInfo]);
    var children = el("div", { id: "run-children" }, [kidsPager, kidsList]);
    var snapTitle = el("h2", { text: "State" });
    var snapshot = el("pre", { "class": "json mono", id: "run-state" });
    var timeline = el("table", { id: "timeline" });
    // The timeline's pager: which TIMELINE_ROWS of the run's events it shows.
    var earlier = el("button", { type: "button", id: "tl-earlier", text: "← Earlier", onclick: function () { showRows(first - TIMELINE_ROWS); } });
    var later = el("button", { type: "button", id: "tl-later", text: "Later →", onclick: function () { showRows(first + TIMELINE_ROWS); } });
    var latest = el("button", { type: "button", id: "tl-latest", text: "Latest", onclick: function () { showRows(events.length); } });
    var tlInfo = el("span", { "class": "muted", id: "tl-info" });
    var tlPager = el("div", { "class": "pager", id: "tl-pager", hidden: true }, [earlier, later, latest, tlInfo]);
    view.appendChild(el("h1", null, ["Run ", el("span", { "class": "mono", text: id })]));
    view.appendChild(head);
    // A run the server does not know shows this instead of empty panels.
    var unknown = el("div", { "class": "empty", id: "run-unknown", hidden: true });
    view.appendChild(unknown);
    var cols;
    view.appendChild(cols = el("div", { "class": "cols" }, [
      el("div", null, [el("div", { "class": "panel" }, [diagram, details]),
        el("h2", { text: "Timeline" }), tlPager, wide(timeline)]),
      // The state last, and sticky: it shows the state after the event
      // clicked in the timeline, which may be far down the page.
      el("div", null, [
        el("h2", { text: "Waiting for" }), waitBox,
        el("h2", { text: "Parallel branches" }), branches,
        el("h2", { text: "Child runs" }), children,
        el("div", { "class": "panel sticky" }, [snapTitle, snapshot])
      ])
    ]));
    var status = null;
    // The timeline is built once and grows: the history is read a page at
    // a time (GET /runs/{id}/history?after=SEQ), the new rows appended,
    // and a live event reads only the events after the last one
    // read (lastSeq). events are those read, in order; marks what the
    // server read in them (engine historyAnswer: each rule reads one event
    // alone, so a page's marks are final). The table shows TIMELINE_ROWS
    // of them at a time, from events[first]: the latest, followed live
    // (follow), or earlier ones (Earlier, Later, Latest). A row costs the
    // browser some twenty elements, and with the 25,000 events of the
    // longest history it took seconds to draw a change, such as a row
    // picked.
    var events = [], lastSeq = 0, selectedRow = null, first = 0, follow = true;
    var marks = { woken: {}, gate_closed: {}, cancelled: {}, interrupted: 0, abort: 0, branches: {} };
    var tbody = el("tbody");
    timeline.appendChild(el("thead", null, [el("tr", null, ["#", "Time (UTC)", "Step", "From → To", "Attempt", "Outcome", "Error"].map(function (h) { return el("th", { text: h }); }))]));
    timeline.appendChild(tbody);

    function eventAt(seq) {
      var e = events[seq - 1]; // a history's seqs are 1, 2, ...
      if (e && e.seq === seq) return e;
      for (var i = 0; i < events.length; i++) if (events[i].seq === seq) return events[i];
      return null;
    }
    // The state shown: the latest (status.snapshotText) or, for the row
    // picked, the state after its event, read when it is picked (picked:
    // {seq, state, payload} (their JSON texts) or {seq, error}; null while
    // it is read). The timeline's
    // events come without their states: a long run's states are most of
    // its history's bytes, and only the picked row's is ever looked at.
    var picked = null, reads = 0;
    function showSnapshot() {
      var e = selected ? eventAt(selected) : null;
      setText(snapTitle, e ? "State after event " + e.seq + " (" + (e.step || e.to) + ")" : "State (latest)");
      snapshot.removeAttribute("aria-busy");
      if (e && (!picked || picked.seq !== e.seq)) {
        snapshot.setAttribute("aria-busy", "true");
        snapshot.textContent = "loading\u2026";
        return;
      }
      if (e && picked.error) {
        snapshot.textContent = "Could not read the state after event " + e.seq + ": " + (picked.error.message || String(picked.error));
        return;
      }
      // The states and the payload as the server sent them (rawMember),
      // not parsed and printed again: JSON.parse reads a number beyond a
      // double's precision (an int64 ID) as another.
      var text = shownJSON(e ? picked.state : status ? status.snapshotText : "");
      if (e && picked.payload !== "") text += "\n\nevent payload:\n" + shownJSON(picked.payload);
      setText(snapshot, text);
    }
    // readState reads the event of seq with its state (the page of one
    // event after seq-1), then shows it if seq is still the row picked: an
    // answer that comes after another row was picked (or none, or the
    // timeline was emptied) is dropped, whatever order the answers come in.
    function readState(seq) {
      var read = ++reads;
      picked = null;
      api("GET", base + "/history?after=" + (seq - 1) + "&limit=1", { raw: true, route: "GET /runs/{id}/history" }).then(function (text) {
        var e = (JSON.parse(text).events || [])[0];
        if (!e || e.seq !== seq) throw new Error("the run's history holds no event " + seq);
        var raw = rawItems(rawMember(text, "events"))[0];
        return { seq: seq, state: rawMember(raw, "state"), payload: rawMember(raw, "payload") };
      }).catch(function (x) { return { seq: seq, error: x }; }).then(function (p) {
        if (read !== reads) return;
        picked = p;
        showSnapshot();
      });
    }
    // select marks the row of seq (0: none) as the one whose state is shown.
    function select(seq) {
      selected = seq;
      if (selectedRow) { selectedRow.classList.remove("selected"); selectedRow.setAttribute("aria-selected", "false"); }
      selectedRow = seq ? tbody.querySelector('tr[data-seq="' + seq + '"]') : null;
      if (selectedRow) { selectedRow.classList.add("selected"); selectedRow.setAttribute("aria-selected", "true"); }
      if (seq) readState(seq);
      else { reads++; picked = null; }
      showSnapshot();
    }

    // Timeline. An event that ends a wait has no outcome of its own: the
    // awaited event came, a sleep's time or a call's child ended, or a
    // gated rollback's provider came ("woken"); an event that took an
    // attempt back to its wait failed nothing ("gate closed"); an abort that cut a step
    // short is "interrupted", as the diagram lights it, and so is the end
    // of each parallel branch it cut short; an abort that cut no step
    // short (the run waited) is "aborted": either is no failure, the
    // abort was asked for (the server's "abort"); a branch cut
    // short because another failed is "cancelled", as the branches'
    // table says, not red: its error or timeout is no failure of its own.
    function isCancelled(e) { return !!marks.cancelled[e.seq]; }
    function isInterrupted(e) { return e.seq === marks.interrupted || !!marks.branches[e.seq]; }
    function isAbort(e) { return e.seq === marks.abort; }
    function isAbortError(err) {
      for (var i = events.length - 1; i >= 0; i--) if (isAbort(events[i])) return events[i].error === err;
      return false;
    }
    function stepOf(e) { return e.step || ""; }
    function branchOf(e) { return e.branch ? (e.branch === e.step ? " (branch)" : " (branch " + e.branch + ")") : ""; }
    function outcome(e) {
      if (isInterrupted(e)) return "interrupted";
      if (isCancelled(e)) return "cancelled";
      if (isAbort(e) && !e.outcome) return "aborted";
      return e.outcome || (marks.woken[e.seq] ? "woken" : marks.gate_closed[e.seq] ? "gate closed" : "");
    }
    // appendPage adds a page of the history (an answer of GET
    // /runs/{id}/history) to the timeline.
    function appendPage(b) {
      (b.woken || []).forEach(function (s) { marks.woken[s] = true; });
      (b.gate_closed || []).forEach(function (s) { marks.gate_closed[s] = true; });
      (b.cancelled || []).forEach(function (s) { marks.cancelled[s] = true; });
      if (b.interrupted) marks.interrupted = b.interrupted;
      if (b.abort) marks.abort = b.abort;
      (b.interrupted_branches || []).forEach(function (s) { marks.branches[s] = true; });
      (b.events || []).forEach(function (e) {
        if (e.seq <= lastSeq) return; // read already
        events.push(e);
        lastSeq = e.seq;
      });
    }
    // drawNew shows the events read since the last draw: their rows are
    // appended while the timeline follows the latest, else the rows shown
    // stay. It is called once the history is read to its end: the pages
    // of a long one, drawn as they came, built rows by the thousand only
    // to drop them.
    function drawNew() {
      var from = first + tbody.rows.length;
      if (!follow) return showPager();
      if (events.length - from >= TIMELINE_ROWS) return showRows(events.length);
      var rows = document.createDocumentFragment();
      for (var i = from; i < events.length; i++) rows.appendChild(rowOf(i));
      tbody.appendChild(rows);
      if (tbody.rows.length > TIMELINE_ROWS) {
        // The window moves on: the rows before it go, and its first row
        // is drawn again, with its date.
        var gone = tbody.rows.length - TIMELINE_ROWS;
        for (var k = 0; k < gone; k++) tbody.deleteRow(0);
        first += gone;
        tbody.replaceChild(rowOf(first), tbody.rows[0]);
      }
      showPager();
    }
    // showRows shows the TIMELINE_ROWS events from events[at] (at most:
    // the latest), the keyboard's focus kept on the timeline's pager.
    function showRows(at) {
      first = Math.max(0, Math.min(at, events.length - TIMELINE_ROWS));
      follow = first + TIMELINE_ROWS >= events.length;
      selectedRow = null; // rowOf finds it, if it is shown
      var rows = document.createDocumentFragment();
      for (var i = first; i < Math.min(events.length, first + TIMELINE_ROWS); i++) rows.appendChild(rowOf(i));
      tbody.textContent = "";
      tbody.appendChild(rows);
      showPager();
    }
    function showPager() {
      tlPager.hidden = events.length <= TIMELINE_ROWS;
      var end = Math.min(events.length, first + TIMELINE_ROWS);
      tlInfo.textContent = "events " + (events.length ? events[first].seq : 0) + "\u2013" + (end ? events[end - 1].seq : 0) + " of " + events.length;
      pager(earlier, first > 0, later, !follow);
    }
    // rowName is the accessible name of the row of e, t its time: its
    // number, time, step, transition, attempt, outcome and error.
    function rowName(e, t) {
      return ["event " + e.seq, t, e.step ? "step " + stepOf(e) + branchOf(e) : "",
        e.from + " \u2192 " + e.to, e.attempt ? "attempt " + e.attempt : "",
        outcome(e) ? "outcome " + outcome(e) : "", e.error ? "error: " + e.error : ""].filter(Boolean).join(", ");
    }
    // fromState is From of e's row: it takes the room To leaves it (app.css,
    // .from), To's characters told in --to, " → " with them: a style
    // property set so, not an attribute, which the pages'
    // Content-Security-Policy refuses.
    function fromState(e) {
      var s = el("span", { "class": "from", text: e.from });
      s.style.setProperty("--to", String(Array.from(e.to).length + 3));
      return s;
    }
    // rowOf is the timeline's row of events[i].
    function rowOf(i) {
      var e = events[i];
      // The time of day, with the date above it where it changes (and
      // on the first row shown): a run's events mostly share one date,
      // which on every row made each row three lines tall.
      var t = fmtTime(e.time), d = t.slice(0, 10), when = t.slice(11, 23);
      if (i === first || fmtTime(events[i - 1].time).slice(0, 10) !== d) when = d + "\n" + when;
      var cls = ["clickable"];
      // A failed attempt that its step tries again (outcome retry) failed
      // nothing yet: its error reads as the head's retry note does, not
      // in the red of a failure.
      // Nor is the abort, whether it cut a step short (interrupted) or a
      // wait, nor a branch it cut short: the run is aborting, not
      // failing; its row is grey, as its step's box.
      if (e.error && !isCancelled(e) && e.outcome !== "retry" && !isInterrupted(e) && !isAbort(e)) cls.push("ev-error");
      if (/:rollback$/.test(e.from) || /:rollback$/.test(e.to)) cls.push("ev-rollback");
      if (e.outcome === "retry") cls.push("ev-retry");
      var pick = function () { select(selected === e.seq ? 0 : e.seq); };
      if (e.seq === selected) cls.push("selected");
      // A row is picked by keyboard too (Tab to it, Enter or Space), as
      // by a click: its snapshot is otherwise out of reach without a mouse.
      // Its name says, in words, what its cells show, for a screen
      // reader that the Tab key brings to the row: its cells read one by
      // one, or the row unnamed, would not tell it from the others.
      var tr = el("tr", { "class": cls.join(" "), "data-seq": String(e.seq), tabindex: "0",
        "aria-label": rowName(e, t), "aria-selected": String(e.seq === selected), onclick: pick,
        onkeydown: function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(); } } }, [
        el("td", { text: String(e.seq) }),
        el("td", { "class": "time", title: t, text: when }),
        // A branch's events name the branch, which is its step. The
        // name keeps to one line, a long one cut short (an ellipsis)
        // before the branch's mark, and read whole in its title: broken
        // at its words, a name made each row several lines tall, and
        // read badly.
        el("td", { "class": "mono step-col" }, [el("div", { "class": "one-line", title: stepOf(e) + branchOf(e) }, [
          el("span", { text: stepOf(e) }), branchOf(e) ? el("span", { "class": "branch-mark", text: branchOf(e) }) : null])]),
        // From → To keeps to one line too, as wide as the column
        // leaves it, the states cut short with an ellipsis if they must
        // (both whole in the title): long names broken at each word
        // made the row several lines tall. The column is sized by the
        // names as if they could wrap (the hidden fit), so that the
        // timeline still fits a narrow window, and shows them whole
        // where there is room.
        el("td", { "class": "mono fromto-col" }, [
          el("div", { "class": "fit", "aria-hidden": "true" }, breakable(e.from + " → " + e.to)),
          el("div", { "class": "one-line", title: e.from + " → " + e.to }, [fromState(e), " → " + e.to])]),
        el("td", { text: e.attempt ? String(e.attempt) : "" }),
        el("td", { text: outcome(e), title: isCancelled(e) ? "the attempt's own outcome: " + e.outcome : null }),
        el("td", { "class": "err-col" + (isCancelled(e) || isInterrupted(e) || isAbort(e) ? " muted" : ""), text: e.error || "" })
      ]);
      if (e.seq === selected) selectedRow = tr;
      return tr;
    }
    // forget empties the timeline: the run is gone (retention removed
    // it), and a run started under its ID later has a history of its own.
    function forget() {
      events = []; lastSeq = 0; first = 0; follow = true; selected = 0; selectedRow = null; picked = null; reads++;
      marks = { woken: {}, gate_closed: {}, cancelled: {}, interrupted: 0, abort: 0, branches: {} };
      tbody.textContent = "";
      showPager();
    }

    // render draws the head and the panels anew (draw), the focus kept
    // on the element the keyboard was on there (keepFocus).
    function render(st) { keepFocus([head, waitBox, branches, children], function () { draw(st); }); }
    function draw(st) {
      status = st;
      // The head's list is patched (patchKids), not drawn anew: text
      // selected in it stays; the rest of the head goes.
      var shownDl = head.querySelector(":scope > dl");
      Array.prototype.slice.call(head.childNodes).forEach(function (c) { if (c !== shownDl) c.remove(); });
      var dl = el("dl");
      function row(k, v) { if (v !== "" && v !== undefined && v !== null) { dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", null, [v])); } }
      row("Flow", el("a", { href: "#/runs?flow=" + encodeURIComponent(st.flow), text: st.flow }));
      // A child run (of a call or a rollback call) leads back to its parent.
      row("Parent run", st.parent ? runLink(st.parent, "run-parent") : "");
      row("State", badge(st.state));
      row("Step", st.step ? el("span", { "class": "mono", id: "run-step", text: st.step }) : "");
      row("Machine", el("span", { "class": "mono", id: "run-machine", text: st.machine }));
      row("Attempt", st.attempt ? String(st.attempt) : "");
      // The status says whose error it is (runtime.Status.Retrying): the
      // last attempt's, which the step tries again, is a note, not the
      // run's failure; the run's own error (its cause, failed rollbacks)
      // is red.
      // An attempt back at its gate (the server's gate_closed: a Go step
      // that found no live provider, after a restart say) failed nothing:
      // the same attempt runs again, and its error is why it waits.
      var errEv = null;
      for (var i = events.length - 1; i >= 0 && !errEv; i--) if (!events[i].branch && events[i].error) errEv = events[i];
      var backAtGate = errEv && !!marks.gate_closed[errEv.seq];
      if (st.retrying) row("Retrying", el("span", { "class": "retry-note", id: "run-retry",
        text: backAtGate ? "attempt " + st.attempt + " went back to its wait, spending no attempt: " + st.error :
          "attempt " + (st.attempt - 1) + " failed; the step tries again: " + st.error }));
      // The run's error that is its abort's own (runtime: run aborted),
      // whatever its rollbacks retried since, is no failure: grey, as
      // the abort's row. One a rollback adds to it (compensation_failed)
      // is red.
      else row("Error", st.error ? el("span", { "class": isAbortError(st.error) ? "muted" : "error", id: "run-error", text: st.error }) : "");
      // When the attempt after the retry starts, its backoff over: that of
      // the step, or of a rollback (whose retry is no "Retrying": the
      // run's error is its cause then).
      var next = nextAttempt(st.attempt, st.retry_at);
      if (next) next.id = "run-retry-at";
      row("Next attempt", next);
      if (shownDl) patchKids(shownDl, dl); else head.appendChild(dl);
      head.setAttribute("data-state", st.state);
      // An abort accepted that the run has yet to take (its step in
      // flight has not returned): said to all who read the run, and not
      // offered again.
      if (st.abort_requested) {
        head.appendChild(el("div", { "class": "pending", id: "abort-pending", role: "status" }, [
          el("b", { text: "Abort accepted, pending" }),
          ": the run takes it once its step in flight" + (st.step ? " (" + st.step + ")" : "") + " returns, then rolls back its completed steps and ends aborted."
        ]));
      }
      // A run rolling back finishes its rollbacks whatever happens: an
      // abort would change nothing, so none is offered.
      if (session.routes.indexOf("POST /runs/{id}/abort") >= 0 && takesAbort(st.state) && !st.abort_requested) {
        // Two clicks: the first arms the button for 5 s (it survives a
        // refresh of the page's data), the second aborts.
        var btn = el("button", { type: "button", "class": "danger", id: "abort", text: Date.now() < armedUntil ? "Confirm abort" : "Abort run" });
        btn.addEventListener("click", function () {
          if (btn.getAttribute("aria-disabled")) return; // the abort under way
          if (Date.now() >= armedUntil) {
            armedUntil = Date.now() + 5000;
            btn.textContent = "Confirm abort";
            // The button then shown: a live event may have drawn the
            // head, and a button with it, anew meanwhile.
            setTimeout(function () {
              var shown = head.querySelector("#abort");
              if (shown && Date.now() >= armedUntil) shown.textContent = "Abort run";
            }, 5100);
            return;
          }
          armedUntil = 0;
          // aria-disabled, not disabled: a button disabled loses the
          // keyboard's focus to the page's body, and the redraw that
          // follows would find none in the head to keep (keepFocus).
          btn.setAttribute("aria-disabled", "true");
          api("POST", "/runs/" + encodeURIComponent(id) + "/abort", { route: "POST /runs/{id}/abort" }).then(refresh).catch(function (e) {
            btn.removeAttribute("aria-disabled");
            failed(e);
          });
        });
        head.appendChild(btn);
      }

      showSnapshot();

      // Waits.
      waitBox.textContent = "";
      var w = st.wait;
      if (w) {
        // A call's wait, and a rollback call's attempt, name the child run;
        // a Go step's or rollback's wait for a remote provider names the
        // handler (engine.ProviderTopic, ProviderRollbackTopic).
        var providerOf = { "flowgen/provider": "Go step", "flowgen/provider-rollback": "Go rollback" }[w.topic];
        var what = providerOf ? "a provider of " + providerOf + " \u201c" + w.event + "\u201d" :
          w.topic ? "event " + w.topic + " \u201c" + w.event + "\u201d" :
          w.child ? el("span", null, ["child run ", runLink(w.child, "wait-child")]) :
          "a timer (sleep)";
        var lines = [el("div", null, ["Step ", el("b", { "class": "mono", text: st.step || "" }), st.state === "rolling_back" ? "\u2019s rollback waits for " : " waits for ", what])];
        // A retry that waits again (runtime.Await.EachAttempt: a Go step
        // served by providers): the event that entered the wait is the
        // failed attempt's, outcome retry. Said here, so that the run's
        // error above reads as that attempt's, not the run's end.
        var last = events[events.length - 1];
        if (last && last.outcome === "retry" && last.to === st.machine) {
          lines.push(el("div", { id: "wait-retry", text: "before attempt " + (last.attempt + 1) + ", a retry: attempt " + last.attempt + " failed" }));
        }
        // The field "" is the runtime's default path (runtime.CorrelationField): named by the server only.
        if (w.correlated) lines.push(el("div", { text: "only the one " + (w.field ? "whose " + w.field + " is " : "that correlates with ") + JSON.stringify(w.correlation) }));
        if (w.until) lines.push(el("div", { text: "wakes at " + fmtTime(w.until) }));
        lines.push(el("div", { id: "wait-deadline", text: w.deadline ? "deadline " + fmtTime(w.deadline) + " (then: timeout)" : "no deadline" }));
        waitBox.appendChild(el("div", { "class": "panel" }, lines));
      } else waitBox.appendChild(el("div", { "class": "empty", text: "Not waiting." }));

      // Parallel branches (runtime.Status.Branches: the last parallel block
      // entered). Their column is a third of the page: three columns, the
      // attempt with the outcome once there was a retry, an error on a row
      // of its own beneath its branch, names that wrap between their words
      // (nothing scrolls sideways at 1280 px).
      branches.textContent = "";
      if (st.branches && st.branches.length) {
        var rows = [];
        st.branches.forEach(function (b) {
          rows.push(el("tr", { "data-branch": b.step }, [el("td", { "class": "mono" }, breakable(b.step)),
            el("td", { "class": "mono" }, breakable(b.machine)),
            // A branch cut short because another failed, or by the
            // run's abort, is no failure of its own: said so, its error
            // not red.
            el("td", { "class": "outcome", text: (b.cancelled ? "cancelled" : b.interrupted ? "interrupted" : b.outcome || "running") + (b.attempt > 1 ? ", attempt " + b.attempt : "") })]));
          // A branch still running with an error failed an attempt and
          // tries again (runtime.Branch: no outcome yet): a note, as the
          // run's retry is, not a failure in red.
          if (b.error && !b.outcome && !b.cancelled && !b.interrupted) rows.push(el("tr", { "class": "branch-error" }, [el("td", { colspan: "3", "class": "retry-note",
            text: "attempt " + (b.attempt - 1) + " failed; the branch tries again: " + b.error })]));
          else if (b.error) rows.push(el("tr", { "class": "branch-error" }, [el("td", { colspan: "3", "class": b.cancelled || b.interrupted ? "muted" : "error", text: b.error })]));
          // Beneath, when its next attempt starts, its retry backing off.
          var bNext = !b.outcome && nextAttempt(b.attempt, b.retry_at);
          if (bNext) rows.push(el("tr", { "class": "branch-retry-at" }, [el("td", { colspan: "3", "class": "muted" }, ["next: ", bNext])]));
        });
        branches.appendChild(el("table", { "class": "branches" }, [
          el("thead", null, [el("tr", null, ["Branch", "Machine", "Outcome"].map(function (h) { return el("th", { text: h }); }))]),
          el("tbody", null, rows)
        ]));
      } else branches.appendChild(el("div", { "class": "empty", text: "No parallel block entered." }));

      // Child runs: read a page at a time (readKids) when the status
      // reports any (its children: their first page), each with its
      // state as last read (readChildren).
      if (st.children && st.children.length) readKids();
      else { kids = []; kidsCount = 0; kidsNext = ""; kidsCursors = [""]; drawKids(); }
    }
    // readKids reads the page of child runs kidsCursors ends with (the
    // latest CHILD_ROWS, or those before a cursor: GET /runs/{id}/children
    // pages them newest first, with their count), shows it, and reads
    // their states; the stream, if it was closed (the run over, the
    // children shown before over too), follows them again until they are
    // over. A page's children are shown in the order the run started
    // them, numbered from its first: the latest page ends at the count,
    // an earlier one before the child its cursor names, whose number the
    // page before it said (kidsAt): a run only adds children, so a
    // child's number stays.
    var kidsReads = inOrder(function () { return kidsCursors[kidsCursors.length - 1]; });
    function readKids() {
      var cur = kidsCursors[kidsCursors.length - 1], ticket = kidsReads.ask(cur);
      var p = "?order=newest&limit=" + CHILD_ROWS + (cur ? "&cursor=" + encodeURIComponent(cur) : "");
      return api("GET", base + "/children" + p, { route: "GET /runs/{id}/children" }).then(function (b) {
        if (kidsReads.late(ticket)) return;
        kids = (b.children || []).slice().reverse();
        kidsCount = b.count || 0;
        kidsLast = cur ? kidsAt[cur] - 1 : kidsCount;
        kidsNext = b.next_cursor || "";
        if (kidsNext) kidsAt[kidsNext] = kidsLast - kids.length + 1;
        keepFocus([children], drawKids);
        if (!unwatch && kids.some(function (c) { return childOpen(c.run_id); })) unwatch = watchRun();
      }).catch(function (e) {
        // The child a cursor names is gone (its call could not start
        // it): read the latest again.
        if (pageGone(e, cur) && !kidsReads.late(ticket)) { kidsCursors = [""]; return readKids(); }
        failed(e, true);
      });
    }
    function drawKids() {
      kidsList.textContent = "";
      if (kids.length) {
        kidsList.appendChild(el("ul", null, kids.map(function (c) {
          return el("li", { "data-child": c.run_id }, [runLink(c), " ", el("span", { "class": "child-state" }, [childState(c.run_id)])]);
        })));
      } else kidsList.appendChild(el("div", { "class": "empty", text: "No child runs reported for this run." }));
      kidsPager.hidden = kidsCount <= CHILD_ROWS && kidsCursors.length === 1;
      kidsInfo.textContent = "child runs " + (kids.length ? kidsLast - kids.length + 1 : 0) + "\u2013" + (kids.length ? kidsLast : 0) + " of " + kidsCount;
      pager(kidsEarlier, !!kidsNext, kidsLater, kidsCursors.length > 1);
      readChildren();
    }

    // The children's states. Each shown child's state is read (GET
    // /runs/{child}) as the page reads the run, and at each event of a
    // child (or of its own children): the page's stream follows the run
    // with its child runs (GET /watch?children=true), so that a move the
    // parent does not see (a child waiting for an event) shows too. A
    // child over is not read again: it records nothing more. Only the
    // children shown are read: a page open costs CHILD_ROWS reads at
    // most, not one for each child the run ever started.
    var kids = [], kidsCount = 0, kidsLast = 0, kidsNext = "", kidsCursors = [""], kidsAt = {};
    var childStates = {}, childAsked = {}, childShown = {};
    function childState(id) {
      var s = childStates[id];
      return s ? badge(s) : s === "" ? el("span", { "class": "muted", text: "not found" }) : null;
    }
    function childOpen(id) { var s = childStates[id]; return s !== "" && !(s && ended(s)); }
    function readChildren() {
      kids.forEach(function (c) {
        var id = c.run_id;
        if (!childOpen(id)) return;
        var n = childAsked[id] = (childAsked[id] || 0) + 1;
        api("GET", "/runs/" + encodeURIComponent(id), { route: "GET /runs/{id}" }).then(function (st) { return st.state; }, function (e) {
          if (e && e.status === 404) return ""; // removed by the store's retention
          throw e;
        }).then(function (state) {
          if (n < (childShown[id] || 0)) return; // a newer read was shown
          childShown[id] = n;
          if (childStates[id] === state) return;
          childStates[id] = state;
          var li = children.querySelector('li[data-child="' + CSS.escape(id) + '"] .child-state');
          if (li) { li.textContent = ""; var b = childState(id); if (b) li.appendChild(b); }
          stopWhenOver();
        }).catch(function (e) { failed(e, true); });
      });
    }
    var childMoved = throttle(readChildren, 150);

    var shownLit = null; // the lit box last brought into view
    function loadDiagram() {
      return api("GET", "/runs/" + encodeURIComponent(id) + "/diagram", { route: "GET /runs/{id}/diagram" }).then(function (svg) {
        diagramRead();
        showDiagram(diagram, svg, details);
        // Follow the run when it moves, not on every redraw: the user may
        // have scrolled elsewhere meanwhile.
        var key = litKey(diagram);
        if (key !== shownLit) { shownLit = key; showLit(diagram); }
      })
        .catch(function (e) {
          // Only a sign-out (NeedLogin) leaves the box as it is: a 403
          // answered (Forbidden) to a role that may still read diagrams
          // is said in the box as any error is, which would otherwise
          // stay empty. The box the keyboard was on goes with the
          // diagram: the focus stays in its place, on the diagram's box.
          if (e instanceof NeedLogin) return;
          diagramRead();
          keepFocus([diagram], function () { diagram.textContent = "No diagram: " + e.message; });
        });
    }
    var base = "/runs/" + encodeURIComponent(id);
    // readHistory reads the events after the last one read, without
    // their states (readState reads the one picked), a page at a time
    // until the server has no more (it answers at most HISTORY_PAGE),
    // then draws them (drawNew). The first load of a long
    // run reads it all: the timeline is the run's whole story, and the
    // longest history is bounded (25,000 events by default: 25 pages of
    // names, numbers, errors and payloads); after it, a live event costs
    // one request for the few events it adds.
    function readHistory() {
      return api("GET", base + "/history?state=false&after=" + lastSeq + "&limit=" + HISTORY_PAGE, { route: "GET /runs/{id}/history" }).then(function (b) {
        appendPage(b);
        if (b.truncated && b.next_after > 0) return readHistory();
        drawNew();
      });
    }
    // The status and the new events, then the head and the panels drawn
    // from them; the timeline only grows. One read at a time: two would
    // append the same events twice.
    var reading = null, readAgain = false;
    function load() {
      if (reading) { readAgain = true; return reading; }
      // The status first, then the events: the timeline then holds at
      // least every event the status has seen, so the head never shows
      // an end whose events the timeline lacks (the diagram, read after
      // both, may be newer still; the next live event catches up).
      reading = api("GET", base, { raw: true, route: "GET /runs/{id}" }).then(function (text) {
        var st = JSON.parse(text);
        st.snapshotText = rawMember(text, "snapshot");
        return readHistory().then(function () { return st; });
      }).then(function (st) {
        readOK();
        unknown.hidden = true;
        cols.hidden = false;
        render(st);
        runOver = ended(st.state);
        stopWhenOver();
        return loadDiagram();
      }).catch(function (e) {
        if (e && e.status === 404) {
          forget();
          // Nothing to draw: say so once, in place of the panels. The
          // watch still follows the ID, so a run started under it shows.
          head.textContent = "";
          cols.hidden = true;
          unknown.hidden = false;
          unknown.textContent = "No run " + id + " here: no run was started under this ID, or it finished and the store's retention removed it. ";
          unknown.appendChild(el("a", { href: "#/runs", text: "All runs" }));
          notice("");
          return;
        }
        failed(e, true);
      }).then(function () {
        reading = null;
        if (readAgain) { readAgain = false; return load(); }
      });
      return reading;
    }
    // A run that is over records nothing more, and once the children
    // shown are over too its page, read whole, has nothing left to
    // follow: its GET /watch stream, one of the server's bounded few
    // (Options.MaxWatchers), goes, so that tabs left open on finished
    // runs do not hold them all. Another page of children, some not over,
    // opens it again (readKids).
    var runOver = false;
    function stopWhenOver() {
      if (runOver && unwatch && !kids.some(function (c) { return childOpen(c.run_id); })) { unwatch(); unwatch = null; }
    }
    var refresh = throttle(load, 150);
    function watchRun() {
      return watch("run=" + encodeURIComponent(id) + "&children=true", function (ev) {
        if (ev && ev.run_id && ev.run_id !== id) childMoved(); // a child's (or a grandchild's) event
        else refresh();
      }, refresh);
    }
    var unwatch = watchRun();
    cleanup.push(function () { if (unwatch) unwatch(); });
  }

  // Every flow with its diagram, or only the one named (only: a call's
  // link to its child flow), live: a flow defined, or defined anew (GET
  // /watch?kind=flow), is read and drawn again, a new one added in its
  // place in the list (GET /flows orders them by name).
  function flowsView(view, only) {
    view.appendChild(el("h1", { text: only ? "Flow " + only : "Flows" }));
    if (only) view.appendChild(el("p", null, [el("a", { href: "#/flows", id: "all-flows", text: "All flows" })]));
    var list = el("div", { id: "flows" });
    view.appendChild(list);
    // The card of each flow shown, by name: {card, head, box, details,
    // svg (the diagram drawn)}. A read draws again only what changed, so
    // that a card the user is in stays as it is.
    var cards = {};
    // A card's diagram is read once the card comes into view (or within
    // DIAGRAM_MARGIN of it), not every flow's when the page opens: a
    // server of hundreds of flows would get as many requests at once,
    // for diagrams drawn far below the window, most never looked at.
    // c.shown: the card is in view now; c.due: its diagram is to be read
    // (a new card, or its flow defined anew), at once if shown, else once
    // it is.
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        var name = en.target.getAttribute("data-flow"), c = cards[name];
        if (!c || c.card !== en.target) return;
        c.shown = en.isIntersecting;
        if (c.shown && c.due) { c.due = false; diagramOf(c, name); }
      });
    }, { rootMargin: DIAGRAM_MARGIN });
    cleanup.push(function () { seen.disconnect(); });
    function want(c, name) {
      c.due = !c.shown;
      if (c.shown) diagramOf(c, name);
    }
    function head(f) {
      var trig = (f.triggers || []).map(function (t) { return t.kind + " " + (t.endpoint || t.schedule || (t.topic + " " + t.event)); }).join(", ");
      return el("h2", null, [el("a", { href: "#/runs?flow=" + encodeURIComponent(f.name), text: f.name }), " ", el("span", { "class": "muted", text: (f.json ? "JSON flow" : "generated flow") + (trig ? " · " + trig : "") })]);
    }
    function diagramOf(c, name) {
      api("GET", "/flows/" + encodeURIComponent(name) + "/diagram", { route: "GET /flows/{flow}/diagram" }).then(function (svg) {
        if (cards[name] !== c || svg === c.svg) return;
        c.svg = svg;
        c.box.classList.remove("unread");
        c.box.removeAttribute("aria-busy");
        keepFocus([c.box], function () { showDiagram(c.box, svg, c.details); });
      }).catch(function (e) {
        // Only a sign-out (NeedLogin) leaves the card as it is: a 403
        // answered (Forbidden) to a role that may still read diagrams is
        // said in the card as any error is, which "loading" would
        // otherwise say for ever.
        if (e instanceof NeedLogin || cards[name] !== c) return;
        c.svg = null;
        c.box.classList.remove("unread");
        c.box.removeAttribute("aria-busy");
        keepFocus([c.box], function () { c.box.textContent = "No diagram: " + e.message; });
      });
    }
    // draw shows the flows of a GET /flows answer, in its order, and reads
    // (once shown: want) the diagram of each new card and of each flow in
    // stale (all: every one).
    function draw(b, stale, all) {
      var shown = (b.flows || []).filter(function (f) { return !only || f.name === only; });
      var empty = list.querySelector(".empty");
      if (empty) empty.remove();
      var next = {};
      shown.forEach(function (f) {
        var c = cards[f.name];
        if (!c) {
          // The box keeps a diagram's room until its diagram is drawn,
          // so that the cards below are not all in view at first.
          c = { head: head(f), box: el("div", { "class": "diagram unread", "aria-busy": "true", text: "loading the diagram\u2026" }), details: el("div"), svg: null, shown: false, due: false };
          c.card = el("section", { "class": "flow-card panel", "data-flow": f.name }, [c.head, c.box, c.details]);
          seen.observe(c.card);
        } else {
          var h = head(f);
          if (h.textContent !== c.head.textContent) { c.head.replaceWith(h); c.head = h; }
        }
        next[f.name] = c;
        list.appendChild(c.card); // moved into the answer's order
      });
      Object.keys(cards).forEach(function (n) { if (!next[n]) { seen.unobserve(cards[n].card); cards[n].card.remove(); } });
      var fresh = Object.keys(next).filter(function (n) { return !cards[n]; });
      cards = next;
      Object.keys(cards).forEach(function (n) {
        if (all || stale[n] || fresh.indexOf(n) >= 0) want(cards[n], n);
      });
      if (!shown.length) {
        list.appendChild(el("div", { "class": "empty", text: only ? "No flow " + only + " is registered." :
          "No flows registered. Define one with PUT /flows, or put .flow/.json files in serve's -flows directory." }));
      }
    }
    // The flows named by events since the last draw (all: the stream
    // (re)opened, events may have been missed), drawn by the first answer
    // shown: one dropped as late leaves them to a newer one.
    var reads = inOrder(function () { return ""; }), stale = {}, all = false;
    function read(changed) {
      if (changed === undefined) all = true; else stale[changed] = true;
      var ticket = reads.ask("");
      api("GET", "/flows", { route: "GET /flows" }).then(function (b) {
        if (reads.late(ticket)) return;
        readOK();
        var s = stale, a = all;
        stale = {}; all = false;
        draw(b, s, a);
      }).catch(function (e) { failed(e, true); });
    }
    cleanup.push(watch((only ? "flow=" + encodeURIComponent(only) + "&" : "") + "kind=flow",
      function (d) { read(d.flow); }, function () { read(); }));
  }

  // ---- dead letters ---------------------------------------------------------------
  // The text of a JSON value is read as the server sent it, not parsed and
  // printed again: JSON.parse turns a number beyond a double's precision
  // into another (1e400 into Infinity, printed null), and a dead letter's
  // payload may be dead for just that.

  // skipJSON answers the index after the JSON value that starts at s[i]
  // (after white space). s is the API's JSON; a text cut short throws.
  function skipJSON(s, i) {
    i = skipSpace(s, i);
    var c = s[i];
    if (i >= s.length) throw new Error("JSON cut short");
    if (c === "\"") {
      JSON_STRING.lastIndex = i;
      if (!JSON_STRING.test(s)) throw new Error("JSON cut short");
      return JSON_STRING.lastIndex;
    }
    if (c === "{" || c === "[") {
      var close = c === "{" ? "}" : "]";
      i = skipSpace(s, i + 1);
      while (s[i] !== close) {
        if (c === "{") i = skipSpace(s, skipSpace(s, skipJSON(s, i)) + 1); // the name and its colon
        i = skipSpace(s, skipJSON(s, i));
        if (s[i] === ",") i = skipSpace(s, i + 1);
        else if (s[i] !== close) throw new Error("JSON: want , or " + close);
      }
      return i + 1;
    }
    JSON_SCALAR.lastIndex = i; // a number, true, false, null
    JSON_SCALAR.test(s);
    return JSON_SCALAR.lastIndex;
  }
  function skipSpace(s, i) { JSON_SPACE.lastIndex = i; JSON_SPACE.test(s); return JSON_SPACE.lastIndex; }
  // The JSON text's tokens, read by regular expressions rather than a
  // character at a time: a run's state of a megabyte is read at each of
  // its events. A string is written unrolled ("[^"\\]*(?:\\.[^"\\]*)*"),
  // so that its length costs the matcher no backtracking.
  var JSON_STRING = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"/y, JSON_SCALAR = /[^,\]}\s]*/y, JSON_SPACE = /\s*/y;
  var JSON_TOKENS = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"|[{}\[\],:]|[^\s{}\[\],:"]+/g;
  // members calls fn(name, start, end) for each member of the JSON object
  // at s[i], its value's text s.slice(start, end); it answers the index
  // after the object.
  function members(s, i, fn) {
    i = skipSpace(s, i);
    if (s[i] !== "{") return skipJSON(s, i);
    i = skipSpace(s, i + 1);
    while (s[i] === "\"") {
      var end = skipJSON(s, i), name = JSON.parse(s.slice(i, end));
      var start = skipSpace(s, skipSpace(s, end) + 1);
      end = skipJSON(s, start);
      fn(name, start, end);
      i = skipSpace(s, end);
      if (s[i] === ",") i = skipSpace(s, i + 1);
    }
    return skipSpace(s, i) + 1;
  }
  // rawMember answers the text of the member name of the JSON object s,
  // as the server sent it ("" for none).
  function rawMember(s, name) {
    var raw = "";
    if (s && s[skipSpace(s, 0)] === "{") members(s, 0, function (n, a, b) { if (n === name) raw = s.slice(a, b); });
    return raw;
  }
  // rawItems answers the text of each item of the JSON array s.
  function rawItems(s) {
    var out = [], i = skipSpace(s || "", 0);
    if (s[i] !== "[") return out;
    i = skipSpace(s, i + 1);
    while (i < s.length && s[i] !== "]") {
      var end = skipJSON(s, i);
      out.push(s.slice(i, end));
      i = skipSpace(s, end);
      if (s[i] === ",") i = skipSpace(s, i + 1);
    }
    return out;
  }
  // rawPayloads answers the payload's text of each dead letter of a
  // GET /deadletters answer, as the server sent it ("" for none).
  function rawPayloads(s) {
    return rawItems(rawMember(s, "dead_letters")).map(function (d) { return rawMember(d, "payload"); });
  }
  // shownJSON lays out the JSON text raw for the page ("(none)" for no
  // value, or null), its numbers as they are and its strings as
  // JSON.stringify writes them (escaping only what it must: a state's
  // "\u003c" reads "<").
  function shownJSON(raw) { return raw === "" || raw === "null" ? "(none)" : indentJSON(raw, true); }
  // indentJSON lays out JSON text two spaces a level, changing no value:
  // the white space outside strings is its own (a payload_text is the
  // payload as it arrived, laid out or not). Text nested deeper than
  // INDENT_MAX levels is answered as it is: each line's indent grows with
  // the depth, and a payload refused for its depth (a megabyte of "[")
  // would be laid out in gigabytes, hanging the page. With strings, each
  // string is written as JSON.stringify writes it, its value unchanged.
  var INDENT_MAX = 64;
  function indentJSON(raw, strings) {
    var toks = raw.match(JSON_TOKENS) || [], out = [], depth = 0;
    function pad() { return "\n" + "  ".repeat(depth); }
    for (var i = 0; i < toks.length; i++) {
      var t = toks[i], c = t[0];
      if (c === "\"") out.push(strings && t.indexOf("\\") >= 0 ? JSON.stringify(JSON.parse(t)) : t); // one without escapes JSON.stringify writes as it is
      else if (c === "{" || c === "[") {
        if (toks[i + 1] === (c === "{" ? "}" : "]")) { out.push(t + toks[++i]); continue; } // empty: {} or []
        if (++depth > INDENT_MAX) return raw;
        out.push(t + pad());
      } else if (c === "}" || c === "]") { depth--; out.push(pad() + t); }
      else if (c === ",") out.push("," + pad());
      else if (c === ":") out.push(": ");
      else out.push(t);
    }
    return out.join("");
  }

  // textPayload shows a payload_text: a payload that is not JSON the
  // engine takes in (engine.ShowPayload). Not all of it is not JSON: one
  // refused for a number beyond a float64, or nested too deep, is JSON
  // (JSON.parse reads 1e999 as Infinity), and is laid out as JSON, its
  // text unchanged; the reason beside it says why it was refused.
  function textPayload(text) {
    var json = true;
    try { JSON.parse(text); } catch (e) { json = false; }
    return el("div", null, [el("div", { "class": "muted", text: json ? "JSON the engine does not take in:" : "not JSON:" }),
      el("pre", { "class": "json mono payload", text: json ? indentJSON(text) : text })]);
  }

  // The dead letters (GET /deadletters: messages the engine will never
  // apply, and why), filtered by topic and event, newest first (the one an
  // operator looks for is the one that just failed) or, with order=oldest
  // in the fragment, in the order they arrived, a page at a time. GET
  // /watch says nothing of them: the view
  // reads them when it opens and when asked (Refresh). Only for a caller
  // the API lets read them (the route in GET /session, show's mayRead):
  // they hold every publisher's payloads.
  function deadLettersView(view, q) {
    view.appendChild(el("h1", { text: "Dead letters" }));
    // The order the link gave goes to the API as it is (newest first when
    // it gives none): one it does not take (a link typed or cut short) is
    // shown in the Order select, saying so, as an unknown state is in the
    // runs list's, and GET /deadletters refuses it (400), which the list
    // says.
    var wantedOrder = q.get("order") || "newest", oldest = wantedOrder === "oldest";
    var known = wantedOrder === "newest" || oldest;
    view.appendChild(el("p", { "class": "muted", text: "Messages the engine will never apply, with the reason, " + (oldest ? "oldest first, in the order they arrived" : known ? "newest first, the one that arrived last on top" : "in the order asked") + "; kept until the engine's dead-letter retention expires them. This page does not follow them live: Refresh reads them again." }));
    var topic = el("input", { type: "text", name: "topic", id: "dl-topic", value: q.get("topic") || "" });
    var event = el("input", { type: "text", name: "event", id: "dl-event", value: q.get("event") || "" });
    var order = el("select", { name: "order", id: "dl-order" }, [
      el("option", { value: "newest", text: "newest first" }), el("option", { value: "oldest", text: "oldest first" }),
      known ? null : el("option", { value: wantedOrder, text: wantedOrder + " (unknown order)" })]);
    order.value = wantedOrder;
    var form = el("form", { "class": "filters", id: "dl-filters" }, [
      el("label", null, ["Topic", topic]), el("label", null, ["Event", event]), el("label", null, ["Order", order]),
      el("button", { type: "submit", id: "dl-apply", text: "Filter" }),
      el("button", { type: "button", id: "dl-clear", text: "Clear", onclick: function () { location.hash = "#/deadletters"; } })
    ]);
    function apply() {
      var out = new URLSearchParams();
      if (topic.value) out.set("topic", topic.value);
      if (event.value) out.set("event", event.value);
      if (order.value !== "newest") out.set("order", order.value); // newest first is the default
      var h = "#/deadletters" + (out.toString() ? "?" + out : "");
      // A filter lists from the first page.
      if (location.hash === h) { history.replaceState(null, "", location.href); route(); } else location.hash = h;
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); apply(); });
    order.addEventListener("change", apply); // an order needs no Filter click
    var table = el("table", { id: "deadletters" }, [el("thead", null, [el("tr", null,
      ["Received (UTC)", "Dead-lettered (UTC)", "Topic", "Event", "ID", "Reason", "Payload"].map(function (h) { return el("th", { text: h }); }))])]);
    var tbody = el("tbody");
    table.appendChild(tbody);
    var cursors = keptCursors(); // the cursor of each page seen, for Previous
    var prev = el("button", { type: "button", id: "dl-prev", text: "← Previous", disabled: true });
    var next = el("button", { type: "button", id: "dl-next", text: "Next →", disabled: true });
    var refresh = el("button", { type: "button", id: "dl-refresh", text: "Refresh" });
    var pageInfo = el("span", { "class": "muted", id: "dl-page" });
    view.appendChild(form);
    view.appendChild(wide(table));
    view.appendChild(el("div", { "class": "pager" }, [prev, next, refresh, pageInfo]));
    var nextCursor = "", reads = inOrder(function () { return cursors[cursors.length - 1]; });
    function load() {
      var p = new URLSearchParams();
      ["topic", "event"].forEach(function (k) { if (q.get(k)) p.set(k, q.get(k)); });
      p.set("order", wantedOrder); // the cursors continue in it
      p.set("limit", String(PAGE));
      var cur = cursors[cursors.length - 1], ticket = reads.ask(cur);
      if (cur) p.set("cursor", cur);
      return api("GET", "/deadletters?" + p, { raw: true, route: "GET /deadletters" }).then(function (text) {
        if (reads.late(ticket)) return;
        var b = JSON.parse(text), raws = rawPayloads(text);
        notice("");
        tbody.textContent = "";
        (b.dead_letters || []).forEach(function (d, i) {
          var payload = d.payload_text !== undefined ? textPayload(d.payload_text) :
            raws[i] ? el("pre", { "class": "json mono payload", text: indentJSON(raws[i]) }) : el("span", { "class": "muted", text: "(empty)" });
          // The date above the time of day: the payload needs the room.
          tbody.appendChild(el("tr", { "data-id": d.id }, [
            el("td", { "class": "time", text: fmtTime(d.received).replace(" ", "\n") }),
            el("td", { "class": "time", text: fmtTime(d.time).replace(" ", "\n") }),
            el("td", { "class": "mono", text: d.topic }),
            el("td", { "class": "mono", text: d.event }),
            el("td", { "class": "mono", text: d.id }),
            el("td", { "class": "err-col dl-reason", text: d.reason }),
            el("td", { "class": "dl-payload" }, [payload])
          ]));
        });
        if (!b.dead_letters || !b.dead_letters.length) tbody.appendChild(el("tr", null, [el("td", { colspan: "7", "class": "muted", text: cursors.length > 1 ? "No more dead letters." : "No dead letters." })]));
        nextCursor = b.next_cursor || "";
        pager(prev, cursors.length > 1, next, !!nextCursor);
        pageInfo.textContent = "page " + cursors.length;
      }).catch(function (e) {
        if (pageGone(e, cur) && !reads.late(ticket)) { cursors = [""]; keepCursors(cursors); return load(); }
        failed(e);
        if (!reads.late(ticket) && refusedList(e, tbody, 7, "dl-filter-refused", "dead letters")) pager(prev, !prev.disabled, next, false);
      });
    }
    next.addEventListener("click", function () { if (nextCursor) { cursors.push(nextCursor); keepCursors(cursors); load(); } });
    prev.addEventListener("click", function () { if (cursors.length > 1) { cursors.pop(); keepCursors(cursors); load(); } });
    refresh.addEventListener("click", load);
    load();
  }

  // ---- start -------------------------------------------------------------------
  // showSession makes s (an answer of GET /session) the page's session,
  // and shows its role and the links it may follow.
  function showSession(s) {
    session = s;
    $("#who").textContent = s.auth ? "signed in: " + s.role : "open API (no tokens)";
    $("#signout").hidden = !s.auth;
    // Each view's link offered to whom the API lets read it, as Abort
    // is: a role changed mid-session (forbidden) loses those it may not.
    $("#nav-runs").hidden = s.routes.indexOf("GET /runs") < 0;
    $("#nav-flows").hidden = s.routes.indexOf("GET /flows") < 0;
    $("#nav-deadletters").hidden = s.routes.indexOf("GET /deadletters") < 0;
  }
  var startAgain = null; // the timer of start's next try, if any
  function start() {
    clearTimeout(startAgain);
    api("GET", "/session", { route: "GET /session" }).then(function (s) {
      hideLogin();
      $("#nav").hidden = false;
      showSession(s);
      route();
    }).catch(function (e) {
      // A token the API knows whose role may not read (a provider's, 403)
      // got the form again from refusal, to give another, rather than a
      // page with no way out.
      failed(e);
      // No answer, or the server failing (restarting, say): tried again,
      // as the live stream is, so that the page starts by itself once
      // the server is back rather than stay blank until a reload.
      if (!answered(e) && (!e.status || e.status >= 500)) startAgain = setTimeout(start, RECONNECT_MS);
    });
  }
  window.addEventListener("hashchange", route);
  start();
})();
