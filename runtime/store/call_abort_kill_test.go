package store

// SIGKILL while parents wait on call children that are at other points
// than TestCallKill's: a child rolling back (its second step failed, the
// rollback of its first in flight), and a child whose step is in flight,
// its parent then aborted by the resuming process. A second process
// reopens the store, resumes parents and children, aborts the parents of
// the "abort" shape, and waits. Each parent must end as the shape says
// (compensated: the child's failure; aborted), with its one child, whose
// ID is the call's, each action of the child run again only if it was in
// flight, under the same idempotency key, and every rollback once, newest
// first; each history must replay to its run's Status.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

const (
	envCall2Child = "FLOWGEN_CALL2_CHILD" // start | resume
	envCall2Shape = "FLOWGEN_CALL2_SHAPE" // child-rollback | abort | abort-rollback
)

const call2Runs = 10

// call2Aborted is closed once the resuming process has aborted the parents.
var call2Aborted = make(chan struct{})

type call2Parent struct {
	N   int        `json:"n"`
	Out call2Child `json:"out"`
}

type call2Child struct {
	N int `json:"n"`
}

// call2Flows: the parent prepares (a rollback) and calls the child; the
// child's First has a rollback and Second fails (child-rollback,
// abort-rollback) or runs until cancelled (abort). In the first process
// the child's effects hang once recorded: First's rollback (the rollback
// shapes), Second (abort); in the second, First's rollback of the shape
// abort-rollback waits for the parents' aborts.
func call2Flows(st *Store, led *effectLedger, shape string, first bool) (*runtime.Flow[call2Parent], *runtime.Flow[call2Child], error) {
	hang := func(ctx context.Context) {
		if first {
			select {}
		}
	}
	child := runtime.New[call2Child]("Child2", runtime.WithSink(st))
	if err := child.Register(
		runtime.NewStep("First", func(ctx context.Context, s *call2Child) (runtime.Outcome, error) {
			return "", led.record(ctx)
		}, runtime.WithRollback(func(ctx context.Context, s *call2Child) error {
			if err := led.record(ctx); err != nil {
				return err
			}
			if shape != "abort" {
				hang(ctx)
			}
			if shape == "abort-rollback" {
				<-call2Aborted // the parent's abort comes while the child rolls back
			}
			return nil
		})),
		runtime.NewStep("Second", func(ctx context.Context, s *call2Child) (runtime.Outcome, error) {
			if err := led.record(ctx); err != nil {
				return "", runtime.Permanent(err)
			}
			if shape == "abort" {
				hang(ctx)
				<-ctx.Done()
				return "", ctx.Err()
			}
			return "", runtime.Permanent(errors.New("refused"))
		}, runtime.WithIrreversible[call2Child]()),
	); err != nil {
		return nil, nil, err
	}
	parent := runtime.New[call2Parent]("Parent2", runtime.WithSink(st))
	err := parent.Register(
		runtime.NewStep("Prepare", func(ctx context.Context, s *call2Parent) (runtime.Outcome, error) {
			return "", led.record(ctx)
		}, runtime.WithRollback(func(ctx context.Context, s *call2Parent) error { return led.record(ctx) })),
		runtime.NewCall("Run", child,
			func(s *call2Parent) call2Child { return call2Child{N: s.N} },
			func(s *call2Parent) *call2Child { return &s.Out }),
	)
	return parent, child, err
}

func call2Process() int {
	dir, mode, shape := os.Getenv("FLOWGEN_CALL_DIR"), os.Getenv(envCall2Child), os.Getenv(envCall2Shape)
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	st, err := Open(dir, Options{})
	if err != nil {
		return fail(err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "ledger"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fail(err)
	}
	parent, child, err := call2Flows(st, &effectLedger{f: lf}, shape, mode == "start")
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	if mode == "start" {
		for i := range call2Runs {
			if _, err := parent.Start(ctx, call2Parent{N: i}, runtime.WithRunID(fmt.Sprintf("p-%d", i))); err != nil {
				return fail(err)
			}
		}
		select {} // the test kills us
	}
	runs, err := parent.ResumeAll(ctx, st)
	if err != nil {
		return fail(err)
	}
	kids, err := child.ResumeAll(ctx, st)
	if err != nil {
		return fail(err)
	}
	if len(runs) != call2Runs {
		return fail(fmt.Errorf("resumed %d parents, want %d", len(runs), call2Runs))
	}
	if strings.HasPrefix(shape, "abort") {
		for _, r := range runs {
			if err := r.Abort(); err != nil {
				return fail(fmt.Errorf("abort %s: %w", r.ID(), err))
			}
		}
	}
	close(call2Aborted)
	for _, r := range runs {
		_, _ = r.Wait(ctx)
	}
	for _, k := range kids {
		_, _ = k.Wait(ctx)
	}
	// Each resumed run's Status is what its history replays to.
	check := func(id string, live runtime.Status) error {
		h, err := st.LoadHistory(ctx, id)
		if err != nil {
			return err
		}
		replayed, err := runtime.Replay(h)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		live.History, replayed.History = nil, nil
		if !reflect.DeepEqual(live, replayed) {
			return fmt.Errorf("run %s: Status %+v, its history replays to %+v", id, live, replayed)
		}
		return nil
	}
	for _, r := range runs {
		if err := check(r.ID(), r.Status()); err != nil {
			return fail(err)
		}
	}
	for _, k := range kids {
		if err := check(k.ID(), k.Status()); err != nil {
			return fail(err)
		}
	}
	return 0
}

func TestCallKillChildRollingBackAndAbort(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, tc := range []struct {
		shape      string
		hangKey    string           // the child's action in flight at the kill
		parent     runtime.RunState // how each parent ends
		child      runtime.RunState
		effects    []string // the child's actions, in the order of the ledger (abort: Second again, or not if the abort came first)
		wantUndone []string
	}{
		{"child-rollback", "First/rollback", runtime.StateCompensated, runtime.StateCompensated,
			[]string{"First", "Second", "First/rollback", "First/rollback"}, []string{"Prepare"}},
		{"abort", "Second", runtime.StateAborted, runtime.StateAborted,
			[]string{"First", "Second", "Second", "First/rollback"}, []string{"Prepare"}},
		{"abort-rollback", "First/rollback", runtime.StateAborted, runtime.StateCompensated,
			[]string{"First", "Second", "First/rollback", "First/rollback"}, []string{"Prepare"}},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := func(mode string) *exec.Cmd {
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envCall2Child+"="+mode, envCall2Shape+"="+tc.shape, "FLOWGEN_CALL_DIR="+dir)
				cmd.Stderr = os.Stderr
				return cmd
			}
			cmd := run("start")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			hung := func() int {
				n := 0
				for _, line := range ledgerLines(t, dir) {
					if key, _, _ := strings.Cut(line, " "); strings.HasSuffix(key, "/"+tc.hangKey) {
						n++
					}
				}
				return n
			}
			deadline := time.Now().Add(20 * time.Second)
			for hung() < call2Runs {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatal("the children did not all reach the kill point")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if err := run("resume").Run(); err != nil {
				t.Fatalf("resuming process: %v", err)
			}

			st, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			children, err := st.List(Filter{Flow: "Child2"})
			if err != nil || len(children) != call2Runs {
				t.Fatalf("%d child runs (%v), want one per parent", len(children), err)
			}
			effects := map[string][]string{} // run -> its actions' keys in ledger order, the run's ID cut
			for _, line := range ledgerLines(t, dir) {
				key, _, _ := strings.Cut(line, " ")
				run, action, _ := strings.Cut(key, "/")
				effects[run] = append(effects[run], action)
			}
			for i := range call2Runs {
				id := fmt.Sprintf("p-%d", i)
				childID := id + "@Run"
				for run, want := range map[string]runtime.RunState{id: tc.parent, childID: tc.child} {
					h, err := st.Load(run)
					if err != nil {
						t.Fatal(err)
					}
					s, err := runtime.Replay(h)
					if err != nil || s.State != want {
						t.Errorf("%s ends %s (%v), want %s:\n%s", run, s.State, err, want, historyText(h))
					}
				}
				got := effects[childID]
				if tc.shape == "abort" && len(got) == len(tc.effects)-1 {
					// The abort came before the resumed Second ran again.
					got = slices.Insert(slices.Clone(got), 2, "Second")
				}
				if !slices.Equal(got, tc.effects) {
					t.Errorf("child %s's effects %q, want %q", childID, got, tc.effects)
				}
				if got, want := effects[id], append([]string{"Prepare"}, prefixed(tc.wantUndone, "/rollback")...); !slices.Equal(got, want) {
					t.Errorf("parent %s's effects %q, want %q", id, got, want)
				}
			}
			if st.AbortRequested("p-0") {
				t.Errorf("p-0's abort request outlived the run")
			}
		})
	}
}

func prefixed(ss []string, suffix string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s + suffix
	}
	return out
}

func historyText(h []runtime.Event) string {
	var b strings.Builder
	for _, e := range h {
		fmt.Fprintf(&b, "  %d %s -> %s %s %q\n", e.Seq, e.From, e.To, e.Outcome, e.Error)
	}
	return b.String()
}
