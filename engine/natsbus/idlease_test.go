package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// extraFlow has a trigger and an await of topics no other engine of these
// tests consumes: an engine that loaded it and attached it has made
// consumers of its own on the stream.
const extraFlow = `{"version": 1, "flows": [
 {"name": "Wait", "state": "WaitState", "triggers": [{"kind": "rpc", "endpoint": "Wait.Start"}],
  "steps": [
   {"name": "Await", "action": {"kind": "await", "topic": "t", "event": "go", "correlate": "Key", "timeout": "1h"}},
   {"name": "After", "action": {"kind": "go"}, "irreversible": true}]},
 {"name": "Extra", "state": "ExtraState", "triggers": [{"kind": "event", "topic": "extra", "event": "start"}],
  "steps": [{"name": "Await", "action": {"kind": "await", "topic": "extra", "event": "more", "timeout": "1h"}}]}
]}`

// loadCounting counts the reads of one run's history: a run resumed is
// read.
type loadCounting struct {
	*store.Store
	run   string
	loads atomic.Int64
}

func (s *loadCounting) Load(runID string) ([]runtime.Event, error) {
	if runID == s.run {
		s.loads.Add(1)
	}
	return s.Store.Load(runID)
}

// sameInstance is a store whose instance ID is set: two of them, with one
// ID, are one store restarted (a store's INSTANCE file survives it:
// store.TestInstanceSurvivesReopen).
type sameInstance struct {
	*store.Memory
	id string
}

func (s sameInstance) Instance() string { return s.id }

// newIDEngine makes an engine of ID id with the flows of doc on st and a
// connection of its own to s; nothing started.
func newIDEngine(t *testing.T, s *server.Server, st engine.Store, id, doc string, opts Options) (*engine.Engine, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	opts.Redeliver = 10 * time.Millisecond
	b, err := New(context.Background(), nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Store: st, Broker: b, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("After", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("flows.json", []byte(doc)); err != nil {
		t.Fatal(err, ds)
	}
	return e, nc
}

func closeIDEngine(t *testing.T, e *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func consumerCount(t *testing.T, b *Broker) int {
	t.Helper()
	st, err := b.js.Stream(context.Background(), "FLOWGEN")
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Consumers
}

// Two processes, each with its store, of one engine ID on one stream (two
// flowgen serve left at their default ID) shared the await consumer
// "await-<ID>", and split the awaited events between them: a run waited
// on, then timed out, while its event sat in the other's inbox, and
// nothing said so. The second one's Start now fails, saying who holds the
// ID and what to do, having created no consumer and resumed no run; with
// its own ID it starts.
func TestSecondProcessOfAnEngineIDIsRefused(t *testing.T) {
	s := startServer(t, t.TempDir())
	first, _ := newIDEngine(t, s, store.NewMemory(), "same", waitFlow, Options{})
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeIDEngine(t, first)

	// A run waiting in the second process's store, which its Start
	// would resume.
	stB, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stB.Close()
	prep, _ := newIDEngine(t, s, stB, "prep", waitFlow, Options{})
	if err := prep.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := prep.StartRun(context.Background(), "Wait", json.RawMessage(`{"Key":"k"}`), "wait-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "wait-1 waiting", func() bool {
		info, ok := stB.Get("wait-1")
		return ok && info.State == runtime.StateWaiting
	})
	closeIDEngine(t, prep)

	counting := &loadCounting{Store: stB, run: "wait-1"}
	second, _ := newIDEngine(t, s, counting, "same", extraFlow, Options{})
	bus := connect(t, s)
	consumers := consumerCount(t, bus)
	err = second.Start(context.Background())
	want := fmt.Sprintf(`another process on this NATS stream (FLOWGEN) has engine ID "same" (host %s, pid %d, since `, hostname(t), os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "give each process its own -id") {
		t.Fatalf("a second process of engine ID %q on the stream: Start %v; want an error with %q that says to give each its own -id", "same", err, want)
	}
	if _, ok := errors.AsType[*engine.IDTakenError](err); !ok {
		t.Errorf("Start's error %v is not an *engine.IDTakenError", err)
	}
	if got := consumerCount(t, bus); got != consumers {
		t.Errorf("a Start refused its ID left %d consumers on the stream, %d before it", got, consumers)
	}
	if n := counting.loads.Load(); n != 0 {
		t.Errorf("a Start refused its ID resumed run wait-1 (its history read %d times)", n)
	}

	other, _ := newIDEngine(t, s, counting, "other", extraFlow, Options{})
	if err := other.Start(context.Background()); err != nil {
		t.Fatalf("an engine of an ID of its own: Start %v", err)
	}
	closeIDEngine(t, other)
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A process killed (it gives its engine ID back no more: here its
// connection dropped, its engine never closed) and restarted on its store
// takes its ID back at once, where its hold lasts an hour; a process with
// another store waits until the hold expires, then takes it.
func TestKilledHolderOfAnEngineID(t *testing.T) {
	s := startServer(t, t.TempDir())
	st := sameInstance{store.NewMemory(), "instance-a"}
	killed, nc := newIDEngine(t, s, st, "k", waitFlow, Options{IDLeaseTTL: time.Hour})
	if err := killed.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = killed.Close(ctx)
	})
	restarted, _ := newIDEngine(t, s, sameInstance{store.NewMemory(), "instance-a"}, "k", waitFlow, Options{IDLeaseTTL: time.Hour})
	if err := restarted.Start(context.Background()); err != nil {
		t.Fatalf("restarted on its store: Start %v; want its ID taken back at once", err)
	}
	another, _ := newIDEngine(t, s, sameInstance{store.NewMemory(), "instance-b"}, "k", waitFlow, Options{IDLeaseTTL: time.Hour})
	if err := another.Start(context.Background()); err == nil {
		t.Fatal("another store while the restarted process holds the ID: Start succeeded")
	}

	// Killed again, with a hold of a second: another store takes the ID
	// once it has expired.
	restarted2, nc2 := newIDEngine(t, s, sameInstance{store.NewMemory(), "instance-c"}, "short", waitFlow, Options{IDLeaseTTL: time.Second})
	if err := restarted2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc2.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = restarted2.Close(ctx)
	})
	refused := 0
	waitFor(t, "another store to take the ID once its hold expired", func() bool {
		e, _ := newIDEngine(t, s, sameInstance{store.NewMemory(), "instance-d"}, "short", waitFlow, Options{IDLeaseTTL: time.Second})
		if err := e.Start(context.Background()); err != nil {
			if _, ok := errors.AsType[*engine.IDTakenError](err); !ok {
				t.Fatalf("Start: %v; want an *engine.IDTakenError until the hold expires", err)
			}
			refused++
			time.Sleep(50 * time.Millisecond)
			return false
		}
		closeIDEngine(t, e)
		return true
	})
	if refused == 0 {
		t.Error("another store took the ID of a killed process at once; want it refused until the hold expires")
	}
	closeIDEngine(t, restarted)
}

// An engine whose ID another process has taken while it ran (the key
// written by another holder: what NATS unreachable longer than the TTL,
// then another process of the ID started, leaves) says so at error level
// and calls OnIDLost; one whose key is gone (expired while NATS was out
// of reach) takes it again and logs a warning.
func TestEngineIDLostWhileRunning(t *testing.T) {
	s := startServer(t, t.TempDir())
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	nc := connectConn(t, s)
	b, err := New(context.Background(), nc, Options{IDLeaseTTL: 3 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	e, err := engine.New(engine.Options{Store: sameInstance{store.NewMemory(), "mine"}, Broker: b, ID: "x", Logger: log,
		OnIDLost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeIDEngine(t, e)
	kv, err := b.js.KeyValue(context.Background(), "FLOWGEN_IDS")
	if err != nil {
		t.Fatal(err)
	}

	if err := kv.Purge(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hold taken again", func() bool {
		en, err := kv.Get(context.Background(), "x")
		return err == nil && strings.Contains(string(en.Value()), `"instance":"mine"`)
	})
	waitFor(t, "the warning", func() bool { return strings.Contains(logs.String(), "had expired") })

	other, _ := json.Marshal(engine.IDHolder{Instance: "theirs", Host: "elsewhere", PID: 7, Since: time.Now()})
	if _, err := kv.Put(context.Background(), "x", other); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), `has engine ID "x" (host elsewhere, pid 7`) {
			t.Errorf("OnIDLost: %v; want the other holder named", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the ID taken by another process: OnIDLost not called")
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "another process took this engine's ID") {
		t.Errorf("the ID taken by another process is not logged at error level:\n%s", logs.String())
	}
	// Not given back: it is the other's.
	if en, err := kv.Get(context.Background(), "x"); err != nil || !strings.Contains(string(en.Value()), "theirs") {
		t.Errorf("the other holder's key: %v %v", en, err)
	}
}

func connectConn(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestIDKeysAndBuckets(t *testing.T) {
	for id, want := range map[string]string{"serve": "serve", "a.b": "a=2Eb", "a=b": "a=3Db", "é": "=C3=A9", "x y/z": "x=20y=2Fz"} {
		if got := idKey(id); got != want {
			t.Errorf("idKey(%q) = %q, want %q", id, got, want)
		}
	}
	if got := idBucket("FLOWGEN"); got != "FLOWGEN_IDS" {
		t.Errorf("idBucket(FLOWGEN) = %q", got)
	}
	if a, b := idBucket("a$b"), idBucket("a%b"); a == b || strings.ContainsAny(a, "$%") {
		t.Errorf("idBucket: %q and %q", a, b)
	}
}

// A process started beside a running one on a copy of its store (the
// same instance, which store.md says never to do) takes the ID at once,
// as a restart would. The running one's renewals took it back, each
// thinking it had expired, and back again: both consumed the awaited
// events, each getting a share, and neither said so. A renewal that finds
// the key written by another holder, of its own instance too, now calls
// OnIDLost.
func TestEngineIDTakenBySameInstance(t *testing.T) {
	s := startServer(t, t.TempDir())
	lost := make(chan error, 2)
	start := func() *engine.Engine {
		b, err := New(context.Background(), connectConn(t, s), Options{IDLeaseTTL: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(engine.Options{Store: sameInstance{store.NewMemory(), "copied"}, Broker: b, ID: "x",
			OnIDLost: func(err error) { lost <- err }})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := start()
	defer closeIDEngine(t, first)
	second := start()
	defer closeIDEngine(t, second)
	select {
	case err := <-lost:
		if _, ok := errors.AsType[*engine.IDTakenError](err); !ok {
			t.Errorf("OnIDLost: %v; want an *engine.IDTakenError", err)
		}
	case <-time.After(30 * time.Second): // a failure bound only
		t.Fatal("a process of the same instance took the ID beside the running one: OnIDLost not called")
	}
}

// A store that should have an instance ID but has none (one made before
// INSTANCE existed, opened on a full disk: store.TestFullDiskBeforeInstance)
// leaves the engine to hold its ID under an instance of its own, so that
// restarted after a crash it is refused its ID, as held by "another
// process", until the hold expires. Nothing said so: Start now warns,
// and only then (a store with its ID, or none of its own kind, says nothing).
func TestEngineIDWithoutStoreInstanceWarns(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, c := range []struct {
		name string
		st   engine.Store
		warn bool
	}{
		{"no instance ID", sameInstance{store.NewMemory(), ""}, true},
		{"an instance ID", sameInstance{store.NewMemory(), "mine"}, false},
		{"no InstanceStore", store.NewMemory(), false},
	} {
		logs := &logtest.Buffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		b, err := New(context.Background(), connectConn(t, s), Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(engine.Options{Store: c.st, Broker: b, ID: "w" + strings.ReplaceAll(c.name, " ", "-"), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		closeIDEngine(t, e)
		if got := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "no instance ID"); got != c.warn {
			t.Errorf("%s: warned %v, want %v; log:\n%s", c.name, got, c.warn, logs.String())
		}
	}
}

// staleReads is a JetStream whose bucket of engine IDs, once armed, fails
// one Update as a request timing out does, then answers one Get with an
// entry it read before: what a replica behind answers a direct get (a
// bucket's Get, AllowDirect) on a stream of several replicas.
type staleReads struct {
	jetstream.JetStream
	mu      sync.Mutex
	fail    bool                    // the next Update fails
	stale   jetstream.KeyValueEntry // the next Get's answer
	renewed chan struct{}           // an Update succeeded after both
}

func (j *staleReads) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := j.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return staleKV{kv, j}, nil
}

type staleKV struct {
	jetstream.KeyValue
	j *staleReads
}

func (kv staleKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	kv.j.mu.Lock()
	fail, armed, renewed := kv.j.fail, kv.j.fail || kv.j.stale != nil, kv.j.renewed
	kv.j.fail = false
	kv.j.mu.Unlock()
	if fail {
		return 0, context.DeadlineExceeded
	}
	rev, err := kv.KeyValue.Update(ctx, key, value, rev)
	if err == nil && !armed && renewed != nil {
		select {
		case renewed <- struct{}{}:
		default:
		}
	}
	return rev, err
}

func (kv staleKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	kv.j.mu.Lock()
	e := kv.j.stale
	kv.j.stale = nil
	kv.j.mu.Unlock()
	if e != nil {
		return e, nil
	}
	return kv.KeyValue.Get(ctx, key)
}

// A renewal that failed (a timeout) read the key again, and on a stream
// of several replicas a follower behind may answer with what the key held
// before this lease took it: another holder's value. The renewal called
// lost, and flowgen serve stopped, over a stale read. A revision older
// than the one the lease wrote is no other holder's: the renewal fails,
// and the next one renews.
//
// The TTL is 3s, not shorter: each renewal has a third of it to answer.
// With 300ms (100ms a renewal) the test failed once in a CI run at load
// average 9 on 2 cores, no renewal succeeding within its 30s bound: what
// a loaded machine does to 100ms deadlines, not what this test is about.
func TestIDLeaseStaleReadNotLost(t *testing.T) {
	s := startServer(t, t.TempDir())
	b, err := New(context.Background(), connectConn(t, s), Options{IDLeaseTTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := b.bucket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := json.Marshal(engine.IDHolder{Instance: "theirs", Host: "elsewhere", PID: 7, Since: time.Now()})
	if _, err := kv.Create(context.Background(), "x", other); err != nil {
		t.Fatal(err)
	}
	before, err := kv.Get(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(context.Background(), "x"); err != nil { // given back
		t.Fatal(err)
	}
	j := &staleReads{JetStream: b.js}
	b.js = j
	lost := make(chan error, 1)
	release, err := b.ClaimID(context.Background(), "x", engine.IDHolder{Instance: "mine"}, func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	j.mu.Lock()
	j.fail, j.stale, j.renewed = true, before, make(chan struct{}, 1)
	renewed := j.renewed
	j.mu.Unlock()
	select {
	case err := <-lost:
		t.Fatalf("a renewal read a stale revision of the key (%d, older than the lease's): lost called: %v", before.Revision(), err)
	case <-renewed:
	case <-time.After(30 * time.Second): // a failure bound only
		t.Fatal("not renewed after a stale read")
	}
}
