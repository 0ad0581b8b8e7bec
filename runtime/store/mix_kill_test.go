package store

// The kill test of the newer constructs: a child process (this test
// binary, re-executed) runs a flow with a step before a parallel block
// (a branch that completes, one that fails its first attempt and retries
// after a backoff, one that fails the block in the "fail" scenario), a
// step whose write a choose reads, a sleep or a sleep until, and a call
// of a child flow (whose second step fails in the "childfail" scenario),
// on the durable store, its "abort" runs aborted at a random moment by
// each process that runs them, and dies by SIGKILL at a durability point, after an
// effect, in a rollback, or at a random moment. A new process resumes the
// store each time. At the end every run must have ended as its scenario
// says, and its history must show: no effect repeated but by an action in
// flight at a kill; rollbacks exactly of the completions, newest first;
// the choose's branch the one its recorded state decides; one sleep per
// visit, woken at or after its recorded time; one child per parent, by the
// call's ID, ended as the scenario says; and each run's live Status, after
// the resume, what its history replays to.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

const envMixChild = "FLOWGEN_MIX_CHILD"

type mixState struct {
	Scenario string    `json:"scenario"` // ok | fail
	Gen      int       `json:"gen"`      // the pid of the process that ran Decide: what the choose reads
	WakeAt   time.Time `json:"wake_at"`  // set by Decide: what Nap2 sleeps until
	A        string    `json:"a,omitempty"`
	B        string    `json:"b,omitempty"`
	Visit    mixVisit  `json:"visit"` // the call's child's final state
}

// mixVisit is the state of the call's child run.
type mixVisit struct {
	Fail bool `json:"fail"` // the child's Check fails: the parent's scenario childfail
	Done bool `json:"done"`
}

const mixNap = 30 * time.Millisecond

func mixFlow(st *Store, led *effectLedger, crash *crasher) (*runtime.Flow[mixState], *runtime.Flow[mixVisit]) {
	f := runtime.New[mixState]("Mix", runtime.WithSink(st))
	child := runtime.New[mixVisit]("MixVisit", runtime.WithSink(st))
	effect := func(ctx context.Context) error {
		if led == nil {
			return nil
		}
		if err := led.record(ctx); err != nil {
			return runtime.Permanent(err)
		}
		crash.hit("after-effect")
		return nil
	}
	undo := func(ctx context.Context, s *mixState) error {
		if led == nil {
			return nil
		}
		if err := led.record(ctx); err != nil {
			return err
		}
		crash.hit("mid-rollback")
		return nil
	}
	act := func(ctx context.Context, s *mixState) (runtime.Outcome, error) { return "", effect(ctx) }
	branch := []*runtime.Step[mixState]{
		runtime.NewStep("A", func(ctx context.Context, s *mixState) (runtime.Outcome, error) {
			s.A = "a"
			return "", effect(ctx)
		}, runtime.WithRollback(undo), runtime.WithWrites(func(dst, src *mixState) { dst.A = src.A })),
		runtime.NewStep("B", func(ctx context.Context, s *mixState) (runtime.Outcome, error) {
			if err := effect(ctx); err != nil {
				return "", err
			}
			if runtime.Attempt(ctx) == 1 {
				return "", errors.New("flaky")
			}
			s.B = "b"
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, s *mixState) error {
			if err := undo(ctx, s); err != nil {
				return err
			}
			if s.Scenario == "badundo" {
				return runtime.Permanent(errors.New("cannot undo B"))
			}
			return nil
		}), runtime.WithWrites(func(dst, src *mixState) { dst.B = src.B }),
			runtime.WithRetry[mixState](runtime.RetryPolicy{Attempts: 3, Initial: 5 * time.Millisecond})),
		runtime.NewStep("C", func(ctx context.Context, s *mixState) (runtime.Outcome, error) {
			if err := effect(ctx); err != nil {
				return "", err
			}
			if s.Scenario == "fail" || s.Scenario == "badundo" {
				time.Sleep(2 * time.Millisecond) // mostly after A completed
				return "", runtime.Permanent(errors.New("refused"))
			}
			return "", nil
		}, runtime.WithIrreversible[mixState]()),
	}
	if err := child.Register(
		runtime.NewStep("Work", func(ctx context.Context, s *mixVisit) (runtime.Outcome, error) {
			return "", effect(ctx)
		}, runtime.WithRollback(func(ctx context.Context, s *mixVisit) error { return undo(ctx, nil) })),
		runtime.NewStep("Check", func(ctx context.Context, s *mixVisit) (runtime.Outcome, error) {
			if err := effect(ctx); err != nil {
				return "", err
			}
			if s.Fail {
				return "", runtime.Permanent(errors.New("no visit"))
			}
			s.Done = true
			return "", nil
		}, runtime.WithIrreversible[mixVisit]()),
	); err != nil {
		panic(err)
	}
	if err := f.Register(
		runtime.NewStep("Before", act, runtime.WithRollback(undo)),
		runtime.NewParallel("P", branch),
		runtime.NewStep("Decide", func(ctx context.Context, s *mixState) (runtime.Outcome, error) {
			s.Gen = os.Getpid()
			s.WakeAt = time.Now().Add(mixNap)
			return "", effect(ctx)
		}, runtime.WithIrreversible[mixState]()),
		runtime.NewChoice("Route", []func(s *mixState) (bool, error){
			func(s *mixState) (bool, error) { return s.Gen%2 == 0, nil },
		}, runtime.WithNext[mixState](runtime.ChoiceOutcome(0), "Nap1"), runtime.WithNext[mixState](runtime.OutcomeOtherwise, "Nap2")),
		runtime.NewSleep("Nap1", mixNap, nil, runtime.WithNext[mixState](runtime.OutcomeOK, "Visit")),
		runtime.NewSleepUntil("Nap2", func(s *mixState) time.Time { return s.WakeAt }, nil),
		runtime.NewCall("Visit", child,
			func(s *mixState) mixVisit { return mixVisit{Fail: s.Scenario == "childfail"} },
			func(s *mixState) *mixVisit { return &s.Visit }),
		runtime.NewStep("After", act, runtime.WithIrreversible[mixState]()),
	); err != nil {
		panic(err)
	}
	return f, child
}

func mixScenario(i int) string {
	switch i % 5 {
	case 0:
		return "fail"
	case 1:
		return "childfail"
	case 2:
		return "abort" // aborted at a random moment by each process that runs it
	case 3:
		return "badundo" // fails as "fail", and B's rollback fails too
	}
	return "ok"
}

// mixChild runs in the child process: resume what is unfinished, start new
// runs, wait for all, and check each resumed run's Status against the
// Replay of its history.
func mixChild() int {
	dir, prefix := os.Getenv("FLOWGEN_STORE_DIR"), os.Getenv("FLOWGEN_RUN_PREFIX")
	nruns, _ := strconv.Atoi(os.Getenv("FLOWGEN_RUNS"))
	crash := newCrasher(os.Getenv(envCrashAt))
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 3 }
	lf, err := os.OpenFile(dir+".ledger", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(err)
	}
	st, err := Open(dir, Options{Hook: crash.hit})
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	f, child := mixFlow(st, &effectLedger{f: lf}, crash)
	ctx := context.Background()
	// Parents first or children first, by the generation's parity.
	var kids []*runtime.Run[mixVisit]
	if os.Getpid()%2 == 0 {
		if kids, err = child.ResumeAll(ctx, st); err != nil {
			return fail(err)
		}
	}
	runs, err := f.ResumeAll(ctx, st)
	if err != nil {
		return fail(err)
	}
	if os.Getpid()%2 == 1 {
		if kids, err = child.ResumeAll(ctx, st); err != nil {
			return fail(err)
		}
	}
	for _, k := range kids {
		if _, err := k.Wait(ctx); err != nil && !strings.Contains(err.Error(), "no visit") && !errors.Is(err, runtime.ErrAborted) {
			return fail(fmt.Errorf("child %s: %w", k.ID(), err))
		}
	}
	resumed := len(runs)
	for i := range nruns {
		r, err := f.Start(ctx, mixState{Scenario: mixScenario(i)}, runtime.WithRunID(fmt.Sprintf("%s-%d", prefix, i)))
		if err != nil {
			return fail(err)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		if s, err := f.State(ctx, r.ID()); err != nil || s.Scenario != "abort" {
			continue
		}
		go func() {
			time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
			_ = r.Abort()
		}()
	}
	for i, r := range runs {
		res, _ := r.Wait(ctx)
		if res.Final != runtime.StateDone && res.Final != runtime.StateCompensated && res.Final != runtime.StateAborted && res.Final != runtime.StateCompensationFailed {
			return fail(fmt.Errorf("run %s ended %s: %v", r.ID(), res.Final, res.Err))
		}
		if i >= resumed {
			continue
		}
		live := r.Status()
		h, err := st.LoadHistory(ctx, r.ID())
		if err != nil {
			return fail(err)
		}
		replayed, err := runtime.Replay(h)
		if err != nil {
			return fail(fmt.Errorf("run %s: %v", r.ID(), err))
		}
		live.History, replayed.History = nil, nil
		if !reflect.DeepEqual(live, replayed) {
			return fail(fmt.Errorf("resumed run %s: Status %+v, its history replays to %+v", r.ID(), live, replayed))
		}
	}
	if err := st.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// mixInFlight notes, after a kill, which actions the store shows in flight:
// a step or rollback running, or a branch of the block running.
func mixInFlight(t *testing.T, l *lane) {
	t.Helper()
	st, err := Open(l.dir, Options{})
	if err != nil {
		t.Fatalf("reopen after kill %d: %v", l.kills, err)
	}
	defer st.Close()
	open, _ := st.NonTerminal("")
	for _, r := range open {
		h, err := st.Load(r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		s, err := runtime.Replay(h)
		if err != nil {
			t.Fatalf("%s after kill: %v", r.RunID, err)
		}
		if step, phase, _ := runtime.ParseMachineState(s.Machine); step != "" {
			l.byPoint["found "+phase]++
			key := r.RunID + "/" + step
			switch phase {
			case runtime.PhaseRollback:
				l.inFlight[key+"/rollback"]++
			case runtime.PhaseParallel:
				for _, b := range s.Branches {
					if b.Outcome == "" {
						l.inFlight[r.RunID+"/"+b.Step]++
					}
				}
			default:
				l.inFlight[key]++
			}
		}
	}
}

func TestKillNewConstructs(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	kills := *killsFlag / 2
	l := &lane{dir: filepath.Join(t.TempDir(), "store"), childEnv: envMixChild, scenario: mixScenario, started: map[string]string{}, inFlight: map[string]int{}, byPoint: map[string]int{}}
	rng := rand.New(rand.NewPCG(7, 42))
	for gen := 0; l.kills < kills; gen++ {
		if gen > 50*kills {
			t.Fatalf("only %d kills in %d children", l.kills, gen)
		}
		point, crashAt, random := "random", "", time.Duration(-1)
		if gen%3 != 2 {
			point = crashPoints[gen%len(crashPoints)]
			crashAt = fmt.Sprintf("%s:%d", point, 1+rng.IntN(20))
		} else {
			random = time.Duration(rng.IntN(60000)) * time.Microsecond
		}
		if runChild(t, l, gen, crashAt, random, 6) {
			l.kills++
			l.byPoint[point]++
			mixInFlight(t, l)
		}
	}
	if runChild(t, l, -1, "", -1, 0) {
		t.Fatal("the final child was killed")
	}
	// The kills found runs in each phase: in a block, asleep, rolling back.
	for _, phase := range []string{runtime.PhaseParallel, runtime.PhaseWaiting, runtime.PhaseRollback} {
		if l.byPoint["found "+phase] == 0 {
			t.Errorf("no kill found a run in phase %s: %v", phase, l.byPoint)
		}
	}
	verifyMix(t, l)
	if l.byPoint["aborted"] == 0 {
		t.Errorf("no run ended aborted: %v", l.byPoint)
	}
	t.Logf("%d kills: %v; %d in-flight re-runs", l.kills, l.byPoint, l.reruns)
}

func verifyMix(t *testing.T, l *lane) {
	t.Helper()
	st, err := Open(l.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, child := mixFlow(st, nil, nil)
	all, _ := st.List(Filter{})

	parents := map[string]bool{}
	for _, r := range all {
		if r.Flow == "MixVisit" {
			continue
		}
		parents[r.RunID] = true
	}
	exists := map[string]bool{}
	attempts := map[string]int{}
	for _, r := range all {
		exists[r.RunID] = true
		h, err := st.Load(r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		s, err := runtime.Replay(h)
		if err != nil {
			t.Errorf("%s: history does not replay: %v", r.RunID, err)
			continue
		}
		for _, e := range h {
			step, phase, _ := runtime.ParseMachineState(e.From)
			key := r.RunID + "/" + step
			switch {
			case phase == runtime.PhaseRollback:
				attempts[key+"/rollback"]++
			case phase == runtime.PhaseRunning && e.Attempt > 0: // a branch cancelled in its backoff ended no attempt
				attempts[key]++
			}
		}
		if r.Flow == "MixVisit" {
			// A call's child, of a parent that has it once, by the call's ID.
			parent, _, _ := strings.Cut(r.RunID, "@")
			want := runtime.StateDone
			switch {
			case l.started[parent] == "childfail":
				want = runtime.StateCompensated
			case l.started[parent] == "abort" && s.State == runtime.StateAborted:
				want = s.State // the parent's abort came while it waited for its child
			}
			if err := child.CheckHistory(h); err != nil || s.State != want || r.RunID != parent+"@Visit" || !parents[parent] || h[0].Parent == nil || h[0].Parent.RunID != parent {
				t.Errorf("child %s (of a %s run): ended %s, want %s (%v)", r.RunID, l.started[parent], s.State, want, err)
			}
			continue
		}
		if err := f.CheckHistory(h); err != nil {
			t.Errorf("%s: history does not fit the flow: %v", r.RunID, err)
		}
		want := runtime.StateDone
		switch l.started[r.RunID] {
		case "fail", "childfail":
			want = runtime.StateCompensated
		case "badundo":
			want = runtime.StateCompensated // when B had not completed
			if slices.ContainsFunc(h, func(e runtime.Event) bool {
				return e.From == runtime.RunningState("B") && e.To != e.From && e.Error == ""
			}) {
				want = runtime.StateCompensationFailed
			}
		case "abort":
			// Aborted; or done, when the abort came as the run ended (a
			// nil from Abort then too, as documented) or with a process
			// killed before its request was durable.
			if s.State == runtime.StateAborted {
				want = runtime.StateAborted
				l.byPoint["aborted"]++
			}
			if st.AbortRequested(r.RunID) {
				t.Errorf("%s: its abort request outlived the run", r.RunID)
			}
		}

		if s.State != want {
			t.Errorf("%s (%s): ended %s, want %s", r.RunID, l.started[r.RunID], s.State, want)
		}
		var completed, undone []string
		var entered *runtime.Event
		for i := range h {
			e := &h[i]
			step, phase, _ := runtime.ParseMachineState(e.From)
			switch {
			case phase == runtime.PhaseRunning && e.Error == "" && e.To != e.From && (step == "Before" || step == "A" || step == "B"):
				completed = append(completed, step)
			case phase == runtime.PhaseRollback && e.To != e.From:
				undone = append(undone, step)
			}
			// The choose decides on the state recorded when it was entered.
			if e.To == runtime.RunningState("Route") {
				var s mixState
				_ = json.Unmarshal(e.State, &s)
				wantOut, wantNext := runtime.OutcomeOtherwise, "Nap2"
				if s.Gen%2 == 0 {
					wantOut, wantNext = runtime.ChoiceOutcome(0), "Nap1"
				}
				if i+1 < len(h) && h[i+1].To != runtime.MachineAborting && (h[i+1].Outcome != wantOut || h[i+1].To != runtime.WaitingState(wantNext)) {
					t.Errorf("%s: Route entered with gen %d left by %s to %s, want %s to %s", r.RunID, s.Gen, h[i+1].Outcome, h[i+1].To, wantOut, wantNext)
				}
			}
			// One sleep per visit, woken at or after its recorded time.
			if st, ph, _ := runtime.ParseMachineState(e.To); ph == runtime.PhaseWaiting && st != "Visit" {
				if entered != nil {
					t.Errorf("%s: seq %d enters %s again", r.RunID, e.Seq, e.To)
				}
				entered = e
			}
			if phase == runtime.PhaseWaiting && step != "Visit" && e.To == runtime.RunningState(step) {
				if entered == nil || e.Time.Before(entered.Wait.Until) {
					t.Errorf("%s: seq %d wakes at %v, before its time %v", r.RunID, e.Seq, e.Time, entered.Wait.Until)
				}
			}
		}
		for i, j := 0, len(completed)-1; i < j; i, j = i+1, j-1 {
			completed[i], completed[j] = completed[j], completed[i]
		}
		if want == runtime.StateDone {
			completed = nil
		}
		if !reflect.DeepEqual(undone, completed) {
			t.Errorf("%s: rolled back %q, want the completions newest first %q", r.RunID, undone, completed)
		}
	}
	data, err := os.ReadFile(l.dir + ".ledger")
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		key, _, _ := strings.Cut(line, " ")
		ran[key]++
		run, _, _ := strings.Cut(key, "/")
		if !exists[run] {
			t.Errorf("effect %q of run %s, which has no history", line, run)
		}
	}
	for key, n := range attempts {
		if strings.HasSuffix(key, "/Route") || strings.Contains(key, "/Nap") || strings.HasSuffix(key, "/Visit") { // no effects of their own
			continue
		}
		if ran[key] < n {
			t.Errorf("%s: history records %d attempts, ledger %d effects", key, n, ran[key])
		}
	}
	for key, n := range ran {
		if extra := n - attempts[key]; extra > l.inFlight[key] {
			t.Errorf("%s: effect happened %d times for %d recorded attempts, but was in flight at only %d kills", key, n, attempts[key], l.inFlight[key])
		}
		l.reruns += n - attempts[key]
	}
}
