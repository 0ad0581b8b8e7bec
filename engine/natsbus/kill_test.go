package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// TestMain lets the test binary run as the engine process of
// TestKilledEngineResumes, TestKillWhileApplyingAwaitedEvents and
// TestKillWhileStartingTriggeredRuns.
func TestMain(m *testing.M) {
	switch os.Getenv("FLOWGEN_ENGINE_CHILD") {
	case "1":
		os.Exit(engineChild())
	case "await":
		os.Exit(awaitChild())
	case "trigger":
		os.Exit(triggerChild())
	}
	os.Exit(m.Run())
}

// childStoreAndBroker opens, in a child process, the store (FLOWGEN_STORE)
// and the broker on the NATS server (FLOWGEN_NATS) the test gave it.
func childStoreAndBroker(opts Options) (*store.Store, *Broker, func(), error) {
	st, err := store.Open(os.Getenv("FLOWGEN_STORE"), store.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	nc, err := nats.Connect(os.Getenv("FLOWGEN_NATS"))
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	b, err := New(context.Background(), nc, opts)
	if err != nil {
		nc.Close()
		st.Close()
		return nil, nil, nil, err
	}
	return st, b, func() { nc.Close(); st.Close() }, nil
}

// finishedBy waits for the engine process cmd to finish the runs and exit,
// and opens the store dir it leaves.
func finishedBy(t *testing.T, cmd *exec.Cmd, dir string) *store.Store {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second engine: %v", err)
		}
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the second engine did not finish the runs")
	}
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startChild starts the test binary as a child process with env added;
// its stderr is logged if the test fails.
func startChild(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	})
	return cmd
}

// engineChild runs an engine on the store, NATS server and service given
// in the environment until no run of the flow is unfinished (then exits 0),
// or until it is killed.
func engineChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	st, b, closeAll, err := childStoreAndBroker(Options{Redeliver: 10 * time.Millisecond})
	if err != nil {
		return fail(err)
	}
	defer closeAll()
	e, err := engine.New(engine.Options{Store: st, Broker: b, ID: "killed", Caller: httpcall.New(httpcall.Static{"customers": os.Getenv("FLOWGEN_SERVICE")})})
	if err != nil {
		return fail(err)
	}
	if ds, err := e.LoadFlows("signup.json", []byte(flowJSON)); err != nil {
		return fail(fmt.Errorf("%v %v", err, ds))
	}
	if err := e.Start(context.Background()); err != nil {
		return fail(err)
	}
	return untilFinished(e, st, "Signup", 1)
}

// untilFinished waits, in a child process, until flow has want runs or
// more and none unfinished, then closes the engine: exit code 0, or 1 if
// closing failed.
func untilFinished(e *engine.Engine, st *store.Store, flow string, want int) int {
	for {
		all, _ := st.List(store.Filter{Flow: flow})
		active, _ := st.List(store.Filter{Flow: flow, NonTerminal: true})
		if len(all) >= want && len(active) == 0 {
			if err := e.Close(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 1
			}
			return 0
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The engine process is killed (SIGKILL) while its run waits for an
// event; the event is published while no engine runs; a new engine process
// on the same store finishes the run, without calling the service again.
func TestKilledEngineResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	s := startServer(t, t.TempDir())
	svc := &customers{created: map[string]string{}, verify: make(chan string, 10)}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	dir := t.TempDir()
	child := func() *exec.Cmd {
		return startChild(t, "FLOWGEN_ENGINE_CHILD=1", "FLOWGEN_STORE="+dir, "FLOWGEN_NATS="+s.ClientURL(), "FLOWGEN_SERVICE="+hs.URL)
	}
	b := connect(t, s)
	// The child's trigger consumer, before the event it is to get: a
	// consumer created later starts at the messages published after it.
	ensureConsumer(t, b, "trigger-Signup", "accounts", "signup.requested")
	first := child()
	if err := b.Publish(context.Background(), engine.Message{ID: "signup-k", Topic: "accounts", Event: "signup.requested",
		Payload: json.RawMessage(`{"Customer": {"Email": "kim@example.com"}}`)}); err != nil {
		t.Fatal(err)
	}
	cust := <-svc.verify
	waitFor(t, "run parked on its await", func() bool {
		st, err := store.OpenReadOnly(dir)
		if err != nil {
			return false
		}
		defer st.Close()
		runs, _ := st.List(store.Filter{Flow: "Signup"})
		return len(runs) == 1 && runs[0].Machine == "AwaitVerified:waiting"
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	// No engine runs: the service's event waits in JetStream.
	if err := b.Publish(context.Background(), engine.Message{ID: "verified-" + cust, Topic: "customers", Event: "customer.verified",
		Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id": %q}`, cust))}); err != nil {
		t.Fatal(err)
	}
	st := finishedBy(t, child(), dir)
	runs, _ := st.List(store.Filter{Flow: "Signup"})
	if len(runs) != 1 || runs[0].State != runtime.StateDone {
		t.Fatalf("runs %+v", runs)
	}
	if len(svc.created) != 1 {
		t.Fatalf("customers created: %v", svc.created)
	}
	h, _ := st.Load(runs[0].RunID)
	if _, err := runtime.Replay(h); err != nil {
		t.Fatal(err)
	}
}
