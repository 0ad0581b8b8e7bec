package store

// A SIGKILL while child runs are in flight: a process (this test binary,
// re-executed) starts parent runs whose call step runs a child flow (shape
// "call"), or whose first step's rollback is a call of the child flow and
// whose second step fails (shape "rollback": the parent waits in its
// rollback); each child's step records its effect and then hangs, and the
// process is killed once every child has. A second process reopens the
// store, resumes both flows (children first or parents first) and lets them
// finish. Every parent must end done with its child's result (compensated,
// for a rollback), each parent must have exactly one child run, and each
// child's step must have run again with the same idempotency key, not
// under a second child.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

const (
	envCallChild = "FLOWGEN_CALL_CHILD" // start | resume-parents-first | resume-children-first
	envCallShape = "FLOWGEN_CALL_SHAPE" // call | rollback
)

const callRuns = 20

type callParent struct {
	N   int       `json:"n"`
	In  callChild `json:"in"`
	Out callChild `json:"out"`
}

type callChild struct {
	N    int  `json:"n"`
	Done bool `json:"done"`
}

// callFlows are the parent and child flows of both processes, of shape
// "call" or "rollback"; hang makes the child's step hang after its effect.
func callFlows(st *Store, led *effectLedger, shape string, hang bool) (*runtime.Flow[callParent], *runtime.Flow[callChild], error) {
	child := runtime.New[callChild]("Child", runtime.WithSink(st))
	if err := child.Register(runtime.NewStep("Work", func(ctx context.Context, s *callChild) (runtime.Outcome, error) {
		if err := led.record(ctx); err != nil {
			return "", runtime.Permanent(err)
		}
		if hang {
			select {}
		}
		s.Done = true
		return "", nil
	}, runtime.WithIrreversible[callChild]())); err != nil {
		return nil, nil, err
	}
	parent := runtime.New[callParent]("Parent", runtime.WithSink(st))
	prepare := func(ctx context.Context, s *callParent) (runtime.Outcome, error) {
		s.In.N = s.N
		return "", nil
	}
	if shape == "rollback" {
		err := parent.Register(
			runtime.NewStep("Prepare", prepare, runtime.WithRollbackCall(child, func(s *callParent) callChild { return s.In })),
			runtime.NewStep("Fail", func(context.Context, *callParent) (runtime.Outcome, error) {
				return "", runtime.Permanent(fmt.Errorf("fails, to roll Prepare back"))
			}, runtime.WithIrreversible[callParent]()),
		)
		return parent, child, err
	}
	err := parent.Register(
		runtime.NewStep("Prepare", prepare, runtime.WithIrreversible[callParent]()),
		runtime.NewCall("Run", child,
			func(s *callParent) callChild { return s.In },
			func(s *callParent) *callChild { return &s.Out }),
	)
	return parent, child, err
}

func callProcess() int {
	dir, mode := os.Getenv("FLOWGEN_CALL_DIR"), os.Getenv(envCallChild)
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	st, err := Open(dir, Options{})
	if err != nil {
		return fail(err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "ledger"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fail(err)
	}
	led := &effectLedger{f: lf}
	parent, child, err := callFlows(st, led, os.Getenv(envCallShape), mode == "start")
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	if mode == "start" {
		for i := range callRuns {
			if _, err := parent.Start(ctx, callParent{N: i}, runtime.WithRunID(fmt.Sprintf("p-%d", i))); err != nil {
				return fail(err)
			}
		}
		select {} // the parent process kills us
	}
	var runs []*runtime.Run[callParent]
	if mode == "resume-children-first" {
		if _, err := child.ResumeAll(ctx, st); err != nil {
			return fail(err)
		}
		if runs, err = parent.ResumeAll(ctx, st); err != nil {
			return fail(err)
		}
	} else {
		if runs, err = parent.ResumeAll(ctx, st); err != nil {
			return fail(err)
		}
		if _, err := child.ResumeAll(ctx, st); err != nil {
			return fail(err)
		}
	}
	if len(runs) != callRuns {
		return fail(fmt.Errorf("resumed %d parents, want %d", len(runs), callRuns))
	}
	for _, r := range runs {
		if res, err := r.Wait(ctx); err != nil && res.Final != runtime.StateCompensated {
			return fail(err)
		}
	}
	return 0
}

func TestCallKill(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, tc := range []struct{ shape, order string }{
		{"call", "resume-parents-first"}, {"call", "resume-children-first"},
		{"rollback", "resume-parents-first"}, {"rollback", "resume-children-first"},
	} {
		shape, order := tc.shape, tc.order
		// The child of p-i: its call's, or its rollback's first attempt's.
		childOf := func(parent string) string { return parent + "@Run" }
		if shape == "rollback" {
			childOf = func(parent string) string { return parent + "@Prepare:rollback" }
		}
		t.Run(shape+"/"+order, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := func(mode string) *exec.Cmd {
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envCallChild+"="+mode, envCallShape+"="+shape, "FLOWGEN_CALL_DIR="+dir)
				cmd.Stderr = os.Stderr
				return cmd
			}
			cmd := run("start")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(ledgerLines(t, dir)) < callRuns {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatal("the children did not all start")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if err := run(order).Run(); err != nil {
				t.Fatalf("resuming process: %v", err)
			}

			st, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			children, err := st.List(Filter{Flow: "Child"})
			if err != nil || len(children) != callRuns {
				t.Fatalf("%d child runs (%v), want one per parent", len(children), err)
			}
			for i := range callRuns {
				id := fmt.Sprintf("p-%d", i)
				h, err := st.Load(id)
				if err != nil {
					t.Fatal(err)
				}
				last := h[len(h)-1]
				switch {
				case shape == "call" && (last.To != string(runtime.StateDone) || !strings.Contains(string(last.State), fmt.Sprintf(`"out":{"n":%d,"done":true}`, i))),
					shape == "rollback" && last.To != string(runtime.StateCompensated):
					t.Fatalf("parent %s ends %s with %s", id, last.To, last.State)
				}
				ch, err := st.Load(childOf(id))
				if err != nil || ch[0].Parent == nil || ch[0].Parent.RunID != id {
					t.Fatalf("child of %s: %v, %+v", id, err, ch)
				}
			}
			// Every child's step ran twice (before the kill, after the
			// resume) with one key: its child run's.
			counts := map[string]int{}
			for _, line := range ledgerLines(t, dir) {
				key, _, _ := strings.Cut(line, " ")
				counts[key]++
			}
			for i := range callRuns {
				if key := childOf(fmt.Sprintf("p-%d", i)) + "/Work"; counts[key] != 2 {
					t.Errorf("%s ran %d times, want 2", key, counts[key])
				}
			}
			if len(counts) != callRuns {
				keys := make([]string, 0, len(counts))
				for k := range counts {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				t.Fatalf("keys %v, want %d", keys, callRuns)
			}
		})
	}
}

// ledgerLines reads the effect ledger's lines.
func ledgerLines(t *testing.T, dir string) []string {
	f, err := os.Open(filepath.Join(dir, "ledger"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
