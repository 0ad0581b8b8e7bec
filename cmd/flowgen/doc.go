// Flowgen compiles .flow files, which declare business flows (steps,
// retries, timeouts, rollbacks, events and triggers), into type-safe Go on
// the flowgen runtime. It also checks, formats, draws and exports them.
//
// Usage:
//
//	flowgen [gen] [-o FILE] [-pkg NAME] [-nopkg] [-strict] [-target runtime|temporal] FILE...
//	flowgen check [-json] [-strict] [-nopkg] [-target runtime|temporal] FILE...
//	flowgen fmt [-w] [-l] [FILE...]
//	flowgen graph [-format dot|mermaid|svg|html] [-flow NAME] FILE
//	flowgen json FILE
//	flowgen runs -store DIR [-flow NAME] [-status STATE] [-order oldest|newest] [-limit N] [-cursor CURSOR] [-json]
//	flowgen history -store DIR [-json] RUN
//	flowgen inbox -store DIR [-topic TOPIC] [-event EVENT] [-state STATE] [-json]
//	flowgen compact -store DIR [-retain DURATION]
//	flowgen serve -store DIR [-flows DIR] [-addr ADDR] [-tokens FILE] [-insecure] [-tls-cert FILE -tls-key FILE] [-service NAME=URL]... [-nats URL] [-id ID] [-retain DURATION] [limits]
//	flowgen serve -temporal HOST:PORT [-namespace NS] [-task-queue Q] -flows DIR [-addr ADDR] [-tokens FILE] ...
//	flowgen version
//	flowgen help [verb]
//
// Every verb takes -h, which prints its flags. Every verb that reads .flow
// files also accepts a .json file in the form that "flowgen json" prints,
// in place of a .flow file (fmt prints its .flow form).
//
// # Generate (the default verb)
//
//	flowgen gen [-o FILE] [-pkg NAME] [-nopkg] [-strict] [-target runtime|temporal] FILE...
//	flowgen FILE...
//
// Gen checks each file and writes the generated Go code beside it as
// <name>_flow.go, or to the file given with -o (only with one input). A
// directory given stands for its .flow files, in name order (not its .json
// files, nor hidden ones), here and for check and fmt: flowgen check .
// checks the flows beside you; one without a .flow file is an error. The
// generated file joins the package of the Go files in its directory (-pkg
// NAME sets the package name when there are none yet; naming another
// package than theirs is an error, as go build refuses two packages in one
// directory). The usual way to run
// it is a go:generate line in the package that holds the flow's state type:
//
//	//go:generate go tool flowgen signup.flow
//
// with flowgen declared as a tool of the module, so that every developer and
// CI use the same version:
//
//	go get -tool github.com/flowgen/flowgen/cmd/flowgen@latest
//
// which adds to go.mod:
//
//	tool github.com/flowgen/flowgen/cmd/flowgen
//
// "go run github.com/flowgen/flowgen/cmd/flowgen signup.flow" works too.
// Gen loads the Go package the generated file joins (the file's directory,
// or that of -o's file) to check that the state type exists and has the
// fields the flow names, and to give each service's
// typed port (the Go interface the rpc steps call) the Go types of the
// fields its rpc lines carry. The generated files of a package compile
// together, so gen (and check) also reports a generated name that the
// package's own Go code declares, or that another .flow file of the
// directory generates too: one whose <name>_flow.go is there, or another
// input of the same command; or that a generated file left behind declares
// (signup_flow.go once signup.flow is renamed: its Source line names a file
// the directory no longer holds; or the input's own code generated before
// into another file than the one gen writes now, signup_flow.go then gen -o
// signup_gen.go signup.flow), with the hint to remove it. Of the
// files beside an input, gen and check read only regular ones (a named
// pipe would hang them). -nopkg skips the loading and these checks, so
// a flow whose rpc lines name state fields cannot be generated with it. If any
// input has an error nothing is written; warnings are printed and do not
// stop generation. Gen only replaces generated code, or a file with
// nothing in it: an output file that holds more than white space without
// a "// Code generated ... DO NOT EDIT." line before its package clause
// (https://go.dev/s/generatedcode) is taken for the user's own, and gen
// stops with an error naming it, writing nothing (rename the file, or
// choose another output with -o); an empty one (as an editor or touch
// creates) holds nothing to lose. Files are replaced atomically (a
// temporary file in the same directory, then a rename), so an interrupted
// run never leaves half a file, and only when their contents change, so
// builds stay cached. With several outputs, all are written to their
// temporary files before any is renamed, so a failure to write one (no
// room, no permission) leaves every output as it was. An output its
// owner may not write (chmod 444) is refused, as gofmt -w refuses it, even
// for root: gen names it and writes nothing (chmod u+w to let it be
// replaced); one whose contents do not change is not written, so passes. An
// output that is a symbolic link stays one: the file it leads to is
// replaced (a link to no file is an error). Two inputs that generate the
// same file (signup.flow and its JSON form signup.json beside it) are a
// usage error: give one of them. An output that go build would skip, its
// name starting with "_" or "." (_signup_flow.go, from _signup.flow), is
// an error that writes nothing: rename the input, or name the output with
// -o.
//
// # Check
//
//	flowgen check [-json] [-strict] [-nopkg] [-target runtime|temporal] FILE...
//
// Check reports every problem in the files (a directory: its .flow files)
// and writes nothing. Each
// diagnostic is printed as
//
//	signup.flow:12:18: error: transition to undefined step "Activte" in step "Review"
//	        on ok -> Activte
//	                 ^
//	  hint: did you mean "Activate"?
//
// with the path relative to the current directory, then the source line,
// a caret under the column, and a hint when one helps (a line too long to
// show whole, such as JSON on one line, is cut around the column, with
// "…" where text is left out). Only the most
// severe diagnostic of each source line is printed (the first mistake of a
// line often causes the next), in file order, and the list stops after
// ten, errors kept before warnings; the rest are counted. Positions in .json
// input are JSON paths (signup.json:$.flows[0].steps[2].on[0]).
//
//	-json    print the diagnostics on stdout as JSON objects, one per line
//	         (every diagnostic, not capped), for editors and CI:
//	         {"severity":"error","range":{"start":{"file":"signup.flow",
//	         "line":12,"column":18},...},"message":"...","hint":"...",
//	         "code":"undefined-target"}
//	         Every outcome is printed so, on stdout, and nothing on
//	         stderr: a file that cannot be read is an object of that
//	         file without a line, code "read" ({"severity":"error",
//	         "range":{"start":{"file":"x.flow"}},"message":"open x.flow:
//	         no such file or directory","code":"read"}), and the exit
//	         status is 1. Only usage errors (exit 2) are text on stderr.
//	-strict  make a step with side effects and neither a rollback nor
//	         irreversible an error instead of a warning
//	-nopkg   do not load the Go package of the file's directory (loading
//	         runs the go command; without it the state type and its fields
//	         are not checked, nor are the generated names against the
//	         package and its other .flow files, and gen cannot type the
//	         service ports of rpc lines that name state fields)
//	-target  what the generated code runs on: runtime (the default) or
//	         temporal, which adds a Temporal workflow, activities, worker
//	         registration and a typed starter per flow (module
//	         github.com/flowgen/flowgen/temporal, docs/temporal.md); check
//	         checks the names that target generates
//
// # Format
//
//	flowgen fmt [-w] [-l] [FILE...]
//
// Fmt prints the files in canonical layout (statements in canonical order,
// four-space indentation, comments kept) on stdout. With -w it rewrites the
// files whose layout changes instead, atomically and, as gen writes its
// outputs, all or none: every file is written to its temporary file before
// any is renamed, so a failure to write one (no room, no permission)
// leaves every file as it was; a file that changes and that its owner may
// not write (chmod 444) is refused so, as gofmt -w refuses it. With -l it
// lists them. Without files it reads .flow text on standard input and
// prints it in canonical layout, as an editor pipes a buffer through gofmt;
// its errors name <standard input>.
// A file named through a symbolic link is rewritten where the link leads,
// and the link stays.
// A byte order mark at the start of a file is read and dropped.
// Formatting is idempotent. On a syntax error in any file (text the parser
// cannot read) nothing is printed or written. Fmt lays a file out and does
// not check it: a value the parser reads but the model refuses (timeout
// 10x, a condition's 1e3) and a statement written twice are printed as
// written, with exit status 0; flowgen check reports them. A .json file in the JSON form (a flow service's flows) prints
// as its .flow form, doc comments included, to compile with go generate; a
// flow that .flow cannot say exactly is an error (code flow-form) and
// prints nothing. -w and -l take .flow files only (a .json argument with
// them is a usage error): the .flow form is a new file, not a rewrite.
//
// # Graph
//
//	flowgen graph [-format dot|mermaid|svg|html] [-flow NAME] FILE
//
// Graph prints a diagram of every flow in FILE, or only of -flow NAME (an
// unknown name is an error that lists the flows of the file): Graphviz DOT
// by default (flowgen graph signup.flow | dot -Tsvg > signup.svg), or a
// Mermaid stateDiagram-v2 with -format mermaid (for Markdown), SVG laid out
// by flowgen itself with -format svg (no Graphviz needed), or one
// self-contained HTML page with that diagram made interactive with -format
// html. Each step
// shows its action, its effective retry ("3 attempts, 100ms..5s"), timeout
// and deadline; transitions are labelled with their outcomes, the default
// ones included; the terminal states are done, failed, compensated,
// compensation_failed and aborted. A failure leads along dashed edges
// through the rollbacks ("undo" states) of the completed steps, in reverse
// order.
//
// # JSON
//
//	flowgen json FILE
//
// Json prints the checked model as JSON: indented, deterministic, and
// readable back by every verb (flowgen json signup.flow > signup.json;
// flowgen check signup.json; flowgen graph signup.json).
//
// Graph and json check the flow but do not load its Go package: diagrams
// and the JSON form do not depend on Go types. An input with an error
// prints its diagnostics and nothing on stdout.
//
// # Runs, history and inbox
//
//	flowgen runs -store DIR [-flow NAME] [-status STATE|active] [-order oldest|newest] [-limit N] [-cursor CURSOR] [-json]
//	flowgen history -store DIR [-json] RUN
//	flowgen inbox -store DIR [-topic TOPIC] [-event EVENT] [-state pending|claimed|dead] [-order oldest|newest] [-limit N] [-cursor CURSOR] [-json]
//
// Runs lists the runs recorded in a durable store (runtime/store): run ID,
// flow, state, current or last step, number of events and the time of the
// last event; a run with an abort accepted that it has yet to take (its
// step in flight has not returned, or the engine has not resumed it) says
// "(abort pending)" after its state, and "abort_requested": true with -json,
// as GET /runs/{id} does. It reads and prints the runs a page at a time, as
// GET /runs pages them (1,000 runs), in the order they started or, with
// -order newest, the latest first; -limit N prints one page of at most N
// runs and, when more follow, the -cursor of the next page on stderr
// ("next page: -cursor CURSOR"): the cursor GET /runs answers as
// next_cursor, so that either continues the other's pages. History prints the timeline of one run: each
// event's time, sequence number, step, transition, attempt, outcome and
// error, then the run's state, when the next attempt of a run in a retry's
// backoff starts, what a waiting run waits for and until when
// (a sleep's wake-up time, an await's event, a call's child run, the
// deadline) and whether an abort is pending; with -json,
// the events in full, state snapshots included. Inbox lists the messages a
// flow engine keeps in the store's inbox, in the order they arrived: topic,
// event, ID, state, arrival, last change, and the idempotency key of the
// await that claimed the message or the reason it is dead. Pending messages
// wait for a run to take them; dead letters (-state dead) will never be
// delivered, for example an event whose payload cannot start its flow's
// run. -topic and -event select; -json prints the messages in full,
// payloads included (payload_text for one that is not JSON in UTF-8). It
// reads and prints the messages a page at a time, as GET /deadletters pages
// the dead letters (1,000 messages and, with -json, 4 MiB of payloads past
// the first; the table reads none), in the order they arrived or, with
// -order newest, the latest first; -limit N prints one page of at most N
// messages and, when more follow, the -cursor of the next page on stderr
// ("next page: -cursor CURSOR"): the cursor GET /deadletters answers as
// next_cursor, so that either continues the other's pages. The store is
// opened read-only, so a service may have it open at the same time.
//
// # Compact
//
//	flowgen compact -store DIR [-retain DURATION]
//
// Compact rewrites a store without the finished runs (done, failed,
// compensated, ...) whose last event is older than -retain, and without
// the inbox messages that expired, then prints how many runs, messages and
// records it removed and kept, and the size of the store before and after.
// -retain is a Go duration (720h is 30 days); the default 0 keeps every
// run. Unfinished runs and messages still in the inbox are always kept. A
// crash at any point leaves the store as it was or compacted, never in
// between
// (docs/store.md#the-swap-and-why-a-crash-cannot-lose-or-double-anything).
// The store must not be open for writing: compact refuses (exit 1) while
// "flowgen serve" holds it; serve compacts in the background with its own
// -retain, removing a finished run within a tenth of -retain more and 10
// minutes.
//
// # Serve
//
//	flowgen serve -store DIR [-flows DIR] [-addr 127.0.0.1:8080] [-tokens FILE] [-insecure]
//	        [-tls-cert FILE -tls-key FILE] [-service NAME=URL]... [-nats URL] [-id ID] [-retain DURATION]
//	        [-read-header-timeout 10s] [-read-timeout 30s] [-write-timeout 60s] [-idle-timeout 60s]
//	        [-max-header-bytes 65536] [-max-conns 1024] [-max-body 1048576] [-service-conns 64]
//	        [-max-running 1000] [-resume-workers 4] [-event-workers 32] [-broker-bytes 268435456]
//	        [-broker-max-age 168h] [-inbox-bytes 268435456] [-inbox-retention 24h] [-max-dead-letters 10000]
//	        [-watch-buffer 256] [-watch-bytes 33554432]
//	        [-provider-allow HOST|HOST:PORT|URL-PREFIX]... [-otlp-traces URL] [-trace-sample 1]
//
// Serve runs a flow engine (package engine) with the embedded durable store
// in -store and the JSON flows of -flows, behind an HTTP/JSON API on -addr:
// POST /flows/{flow}/runs and POST /rpc/{endpoint} start runs, GET
// /runs/{id}, GET /runs/{id}/history, GET /runs/{id}/children and GET
// /runs read them, POST
// /runs/{id}/abort aborts one, PUT /flows defines flows (saved into -flows),
// POST /events/{topic}/{event} publishes an event and GET /deadletters lists
// the dead letters. The store keeps the engine's inbox too (flowgen inbox). rpc steps call the
// services given with -service (POST URL/<endpoint>, JSON); events go through
// an in-process broker, or NATS JetStream with -nats (durable consumer named
// by -id, one process per ID on the stream: a second is refused; while NATS is down serve reconnects, and POST /events answers 502
// and changes nothing; a connection closed for good stops serve). POST /echo/{endpoint} answers with its request body, a stand-in
// service for trying flows. Runs in progress resume at start; SIGINT or
// SIGTERM stops the server gracefully, each run at a step boundary (it
// logs "flowgen serve: stopping" as it begins); requests still open 30s
// later have their connections closed, with a warning, and a step still
// running 30s after that is left, with a warning, and runs again at the
// next start; a second SIGINT or SIGTERM meanwhile ends serve at once, as
// kill -9 would, losing nothing answered. See docs/engine.md.
//
// -flows is optional. Without it the flows directory is DIR/flows of
// -store DIR (made 0700 at start; the store ignores it), so flows defined
// with PUT /flows are saved there and served again after a restart, their
// unfinished runs resumed. See docs/engine.md#without--flows.
//
// Retention. With -retain DURATION, finished runs whose last event is
// older than DURATION are removed from the store (and its index in
// memory) by a background compaction, as flowgen compact does, within a
// tenth of DURATION more and 10 minutes (-retain 720h: within 792h10m),
// however small the store; by default every run is kept. A removed run answers 404, and its ID (or the
// Idempotency-Key that named it) starts a new run: keep -retain longer
// than clients retry. See docs/engine.md#retention.
//
// Remote providers. A JSON flow's Go steps and Go rollbacks may be served
// by other processes that register their handlers through the API (PUT
// /providers/{name}, with a lease they renew) with a callback URL, or over
// NATS with -nats. Callback URLs must be on loopback unless
// -provider-allow (repeatable) is given: then they must match one of its
// hosts, host:ports or URL prefixes (list 127.0.0.1 to keep loopback).
// A flow whose Go handlers have no provider yet loads with a warning; its
// step waits, as a recorded state, until one registers. See
// docs/engine.md#remote-providers and package engine/provider.
//
// Tracing. With -otlp-traces URL (or the standard OTEL_EXPORTER_OTLP_*
// environment variables) each run's trace goes to an OpenTelemetry
// collector over OTLP/HTTP: the API request, the run, its steps and their
// service calls. -trace-sample R records that share of the traces that
// start in the server; a request's traceparent keeps its caller's
// decision. An endpoint, by flag or environment, that is no http(s) URL,
// or holds a user:password or a query (the exporter sends neither: a
// collector's credentials go in OTEL_EXPORTER_OTLP_HEADERS), and headers
// variables that are no key=value pairs, are usage errors. Metrics are always served at GET /metrics (metrics
// role, or viewer, client or admin), and a web view of the flows and runs, live, at /ui/ (the address
// is on the start line: ui=...; with -tokens it asks for a token and
// shows what its role may read, an admin can abort runs there). See
// docs/observability.md.
//
// Temporal. With -temporal HOST:PORT (and -namespace, -task-queue) the
// runs are Temporal workflows on that cluster instead (-flows DIR is then
// required: Temporal keeps the runs, not their flows), shared by every
// serve process given the same flags: serve replaces itself with
// flowgen-temporal serve and the same arguments, found beside the flowgen
// executable or on PATH (it lives in the module temporal/, so that this
// command never links Temporal: install it with
// (cd temporal && go install ./cmd/flowgen-temporal) from a checkout). The
// flags of the store, the broker, the providers and the runs' limits are
// not its (-store, -retain, -nats, -id, -max-running, -resume-workers,
// -event-workers, -broker-bytes, -broker-max-age, -inbox-retention,
// -max-dead-letters, -watch-buffer, -watch-bytes, -service-conns, -provider-allow: exit 2):
// Temporal keeps and schedules the runs; -inbox-bytes passes on as the bound
// of a Temporal inbox, below the cluster's payload limit. See
// docs/temporal.md#json-flows-on-temporal.
//
// Access control. With -tokens FILE, every request to the API needs the
// header "Authorization: Bearer TOKEN" with a token of the file: without
// one, or with an unknown one, the answer is 401; a token whose role is not
// enough gets 403. The file holds one "ROLE TOKEN" per line; blank lines and
// lines starting with # are skipped:
//
//	# keep this file mode 0600; make a token with: openssl rand -hex 32
//	admin  3f1b0c6e5d2a49f8b7c6d5e4f3a2b1c0
//	client 9a8b7c6d5e4f30211203f4e5d6c7b8a9
//
// A viewer may read runs and flows (the web view too) and change nothing;
// a client may also start runs and post events; an admin
// may also define flows (PUT /flows), abort runs, read the dead letters and
// the providers' leases (GET /providers);
// a provider may only register, renew and withdraw remote providers (an
// admin may too); a metrics token, a Prometheus scraper's, may only read
// GET /metrics (a viewer, a client and an admin may too). A provider's lease is the token's that registered it:
// while it is live, another provider token cannot replace, renew or
// withdraw it (403), an admin can; once it expired, any provider token may
// take the name.
// A token has at least 16 characters; a file with an unknown role, a short
// or repeated token, or no token, is refused (exit 1). POST /echo needs no
// token: the engine's own rpc steps call it, and it reads and changes
// nothing. SIGHUP re-reads the token file (and the TLS key pair); if it is
// not valid, the error is logged and the old tokens stay. (Without -tokens
// or TLS, SIGHUP ends serve, as it ends any process.)
//
// Without -tokens the API is open to whoever reaches it, so -addr is
// 127.0.0.1:8080 by default, and serve refuses (exit 2, saying why) an
// address that is not loopback ("localhost" or a loopback IP; ":8080" is
// every interface) unless -insecure is given. The bodies of POST and PUT
// requests must be application/json (else 415): a web page of another
// origin can neither send that nor a bearer token without the server's
// consent (CORS), so it cannot use the API from a visitor's browser.
//
// TLS. -tls-cert and -tls-key (PEM files, both or neither) make serve
// speak HTTPS (TLS 1.2 or later); SIGHUP re-reads them, for renewed
// certificates. Or keep serve on loopback behind a reverse proxy that ends
// TLS, and still give it -tokens: docs/engine.md shows the setup.
//
// Limits. A client has -read-header-timeout (10s) to send a request's
// headers and -read-timeout (30s) to send all of it, body included; a
// slower one is cut off. An answer must be written within -write-timeout
// (60s) of the end of the headers, and a keep-alive connection idle for
// -idle-timeout (60s) is closed. At most -max-conns (1024) client
// connections are open at once, idle keep-alive ones and GET /watch
// streams included (at most half of them streams); beyond, new
// connections wait in the kernel's backlog until one closes. Headers over -max-header-bytes (64 KiB,
// and the 4 KiB net/http reads beyond it) answer 431, bodies over -max-body (1 MiB) 413. rpc steps open at most
// -service-conns (64) connections to each service host; more calls wait
// for one. POST /echo, which needs no token, reads at most -service-conns
// bodies at once; more wait, unread. At most -max-running (1000) runs are in flight, holding a
// goroutine (runs waiting for an event or a time do not count): a start
// beyond answers 429 with Retry-After and records nothing, and an event
// trigger's event is delivered again later. At start, unfinished runs are
// resumed -resume-workers (4) at a time, in the background: the server
// answers at once. Each event trigger applies up to -event-workers (32,
// at most -max-running) events from the broker at once (their runs'
// first events share the store's syncs). The in-process broker keeps only the topics some flow
// consumes (the others' events are dropped and counted; POST /events answers
// 404 for them and keeps them nowhere) and holds at most
// -broker-bytes (256 MiB) that consumers have not acknowledged (with -nats,
// the JetStream stream holds at most -broker-bytes of messages not yet
// acknowledged, for at most -broker-max-age, 168h); the inbox
// holds at most -inbox-bytes (256 MiB) of awaited events no run has taken
// (POST /events beyond answers 429), each for -inbox-retention (24h) from its
// arrival (then it expires, never delivered), and at most -max-dead-letters
// (10,000) dead letters, the oldest dropped beyond. A GET /watch stream
// (the web view's live updates) whose client falls -watch-buffer (256)
// events, or -watch-bytes (32 MiB) of their JSON, behind ends with an
// overflow event. Each must be positive (else exit 2). docs/engine.md lists every limit of the
// engine.
//
// # Exit status
//
// 0 when there is no error (warnings may have been printed), 1 when an
// input has an error, a file cannot be read or written, or the output
// cannot be written (a full disk: nothing after the failed write), 2 on a usage
// error (unknown verb or flag, a flag after the files, which the flag
// package would take for a file, wrong number of arguments, serve on an
// address that is not loopback without -tokens or -insecure). -h and help
// exit 0. A SIGINT (Ctrl-C) or SIGTERM while gen or fmt -w writes its files
// stops the write before any file is replaced: every file stays as it was,
// no temporary file is left, and the exit status is 130 (143 for SIGTERM),
// as the shell reports a process the signal ended. Once the files are being
// renamed into place, they all are, and the command succeeds.
package main
