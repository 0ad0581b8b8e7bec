package store

// Kill tests: a child process (this test binary, re-executed) runs flows on
// the durable store with an effect ledger, and dies by SIGKILL at named
// durability points or at a random moment chosen by the parent. After each
// death the store is reopened; at the end every run must have finished as
// its scenario says, every history must replay and fit the flow, and the
// ledger must show no effect repeated except by a run that was in flight
// when the process died.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

var killsFlag = flag.Int("kills", 200, "number of SIGKILLs in TestKill (at least)")

const (
	envChild   = "FLOWGEN_KILL_CHILD"
	envCrashAt = "FLOWGEN_CRASH_AT" // <point>:<n>: SIGKILL at the n-th hit of point
)

// crashPoints are the named durability points: the log's group commit
// points, a step whose effect is recorded but that has not returned, and a
// rollback likewise.
var crashPoints = []string{"before-write", "after-write-before-sync", "after-sync-before-ack", "after-effect", "mid-rollback"}

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(killChild())
	}
	if os.Getenv(envCompactChild) != "" {
		os.Exit(compactChild())
	}
	if os.Getenv(envCall2Child) != "" {
		os.Exit(call2Process())
	}
	if dir := os.Getenv(envLoadChild); dir != "" {
		os.Exit(loadChild(dir))
	}
	if os.Getenv(envMixChild) != "" {
		os.Exit(mixChild())
	}
	if os.Getenv(envCallChild) != "" {
		os.Exit(callProcess())
	}
	if dir := os.Getenv(envLockChild); dir != "" {
		os.Exit(lockChild(dir))
	}
	if dir := os.Getenv(envFullDiskChild); dir != "" {
		os.Exit(fullDiskChild(dir))
	}
	os.Exit(m.Run())
}

// crasher kills the process at the n-th hit of one point.
type crasher struct {
	point string
	n     int64
	hits  atomic.Int64
}

func newCrasher(spec string) *crasher {
	point, n, ok := strings.Cut(spec, ":")
	if !ok {
		return nil
	}
	c := &crasher{point: point}
	c.n, _ = strconv.ParseInt(n, 10, 64)
	return c
}

func (c *crasher) hit(point string) {
	if c == nil || point != c.point {
		return
	}
	if c.hits.Add(1) == c.n {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never return into the code after the point
	}
}

// effectLedger appends "<idempotency key> <attempt>" lines and syncs each
// before the step goes on: an effect in the ledger happened.
type effectLedger struct {
	mu sync.Mutex
	f  *os.File
}

func (l *effectLedger) record(ctx context.Context) error {
	line := fmt.Sprintf("%s %d\n", runtime.IdempotencyKey(ctx), runtime.Attempt(ctx))
	l.mu.Lock()
	_, err := l.f.WriteString(line) // O_APPEND: one write, one whole line
	l.mu.Unlock()
	if err != nil {
		return err
	}
	// Synced outside the lock so that concurrent steps share syncs.
	return l.f.Sync()
}

type killState struct {
	Scenario string `json:"scenario"` // ok | flaky | fail
	Done     []string
}

var killSteps = []string{"A", "B", "C", "D", "E"}

func killFlow(st *Store, led *effectLedger, crash *crasher) *runtime.Flow[killState] {
	f := runtime.New[killState]("Kill", runtime.WithSink(st))
	var steps []*runtime.Step[killState]
	for _, id := range killSteps {
		steps = append(steps, &runtime.Step[killState]{
			ID:    id,
			Retry: runtime.RetryPolicy{Attempts: 3},
			Exec: func(ctx context.Context, s *killState) (runtime.Outcome, error) {
				if err := led.record(ctx); err != nil {
					return "", runtime.Permanent(err)
				}
				crash.hit("after-effect")
				switch {
				case s.Scenario == "flaky" && id == "B" && runtime.Attempt(ctx) == 1:
					return "", errors.New("flaky")
				case s.Scenario == "fail" && id == "D":
					return "", runtime.Permanent(errors.New("refused"))
				}
				s.Done = append(s.Done, id)
				return runtime.OutcomeOK, nil
			},
			Rollback: func(ctx context.Context, s *killState) error {
				if err := led.record(ctx); err != nil {
					return err
				}
				crash.hit("mid-rollback")
				s.Done = s.Done[:len(s.Done)-1]
				return nil
			},
		})
	}
	if err := f.Register(steps...); err != nil {
		panic(err)
	}
	return f
}

func killScenario(i int) string {
	switch i % 4 {
	case 0:
		return "fail"
	case 1:
		return "flaky"
	}
	return "ok"
}

// killChild runs in the child process: open the store, resume what is
// unfinished, start new runs, wait for all of them.
func killChild() int {
	dir, prefix := os.Getenv("FLOWGEN_STORE_DIR"), os.Getenv("FLOWGEN_RUN_PREFIX")
	nruns, _ := strconv.Atoi(os.Getenv("FLOWGEN_RUNS"))
	crash := newCrasher(os.Getenv(envCrashAt))
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 3 }
	lf, err := os.OpenFile(filepath.Join(dir, "..", filepath.Base(dir)+".ledger"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(err)
	}
	st, err := Open(dir, Options{Hook: crash.hit})
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	f := killFlow(st, &effectLedger{f: lf}, crash)
	ctx := context.Background()
	runs, err := ResumeAll(ctx, f, st)
	if err != nil {
		return fail(err)
	}
	for i := range nruns {
		r, err := f.Start(ctx, killState{Scenario: killScenario(i)}, runtime.WithRunID(fmt.Sprintf("%s-%d", prefix, i)))
		if err != nil {
			return fail(err)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		if res, _ := r.Wait(ctx); res.Final != runtime.StateDone && res.Final != runtime.StateCompensated {
			return fail(fmt.Errorf("run %s ended %s: %v", r.ID(), res.Final, res.Err))
		}
	}
	if err := st.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// lane is one store directory the parent crashes repeatedly.
type lane struct {
	dir      string
	childEnv string             // the variable that makes the test binary a child of this lane (envChild, envMixChild)
	scenario func(i int) string // the scenario of the child's i-th run (killScenario, mixScenario)
	started  map[string]string  // run ID -> scenario, of every run a child was asked to start
	inFlight map[string]int     // idempotency key -> kills that found it in flight
	kills    int
	byPoint  map[string]int
	reruns   int // effects beyond the recorded attempts: in-flight re-runs
}

func runChild(t *testing.T, l *lane, gen int, crashAt string, randomKill time.Duration, nruns int) (killed bool) {
	t.Helper()
	prefix := fmt.Sprintf("g%d", gen)
	c := startChild(t, l.childEnv+"=1", envCrashAt+"="+crashAt,
		"FLOWGEN_STORE_DIR="+l.dir, "FLOWGEN_RUN_PREFIX="+prefix, "FLOWGEN_RUNS="+strconv.Itoa(nruns))
	for i := range nruns {
		l.started[fmt.Sprintf("%s-%d", prefix, i)] = l.scenario(i)
	}
	if c.out.Scan() && randomKill >= 0 {
		time.AfterFunc(randomKill, c.kill)
	}
	for c.out.Scan() {
	}
	return c.wait(t, fmt.Sprintf("crash at %q", crashAt))
}

// child is this test binary run as a child process: its stdout, line by
// line (what it acknowledges), and its stderr, kept for a failure.
type child struct {
	cmd    *exec.Cmd
	out    *bufio.Scanner
	stderr strings.Builder
}

// startChild starts a child with env added to this process's.
func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(append(os.Environ(), env...), "GORACE=halt_on_error=1")
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	forkMu.Lock()
	err = c.cmd.Start()
	forkMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewScanner(out)
	return c
}

func (c *child) kill() { c.cmd.Process.Signal(syscall.SIGKILL) }

// wait waits for the child to end, once its stdout was read to the end,
// and reports whether a SIGKILL ended it; any other end but exit 0 fails
// the test, what (the child's task) and its stderr said.
func (c *child) wait(t *testing.T, what string) (killed bool) {
	t.Helper()
	err := c.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		return true
	default:
		t.Fatalf("child (%s): %v\n%s", what, err, c.stderr.String())
		return false
	}
}

// afterKill reopens the store as a restart would (it must open: a kill is
// never corruption) and notes which actions were in flight.
func afterKill(t *testing.T, l *lane) {
	t.Helper()
	forkMu.Lock()
	defer forkMu.Unlock()
	st, err := Open(l.dir, Options{})
	if err != nil {
		t.Fatalf("reopen after kill %d: %v", l.kills, err)
	}
	defer st.Close()
	open, _ := st.NonTerminal("")
	for _, r := range open {
		if step, phase, _ := runtime.ParseMachineState(r.Machine); step != "" {
			key := r.RunID + "/" + step
			if phase == runtime.PhaseRollback {
				key += "/rollback"
			}
			l.inFlight[key]++
		}
	}
}

// forkMu keeps a lane's reopen (afterKill) apart from another lane's
// child start. Between fork and exec a new child holds every open file of
// this process, the store's locked LOCK file too: a lane whose store was
// open at another lane's fork could see its own next child refused with
// "in use by another process" until that exec. cmd.Start returns after the
// exec, so holding forkMu over it closes the window.
var forkMu sync.Mutex

func TestKill(t *testing.T) {
	kills := *killsFlag
	const lanes = 4
	per := (kills + lanes - 1) / lanes
	var wg sync.WaitGroup
	ls := make([]*lane, lanes)
	for i := range ls {
		ls[i] = &lane{dir: filepath.Join(t.TempDir(), "store"), childEnv: envChild, scenario: killScenario, started: map[string]string{}, inFlight: map[string]int{}, byPoint: map[string]int{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ls[i]
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			for gen := 0; l.kills < per; gen++ {
				if gen > 50*per {
					t.Errorf("lane %d: only %d kills in %d children", i, l.kills, gen)
					return
				}
				point, crashAt, random := "random", "", time.Duration(-1)
				if gen%3 != 2 {
					point = crashPoints[gen%len(crashPoints)]
					crashAt = fmt.Sprintf("%s:%d", point, 1+rng.IntN(12))
				} else {
					random = time.Duration(rng.IntN(3000)) * time.Microsecond
				}
				if runChild(t, l, gen, crashAt, random, 8) {
					l.kills++
					l.byPoint[point]++
					afterKill(t, l)
				}
				if t.Failed() {
					return
				}
			}
			// A last child with no crash finishes everything.
			if runChild(t, l, -1, "", -1, 0) {
				t.Errorf("lane %d: final child was killed", i)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := map[string]int{}
	reruns := 0
	for _, l := range ls {
		for p, n := range l.byPoint {
			total[p] += n
		}
		verifyLane(t, l)
		reruns += l.reruns
	}
	// A kill after an effect and before its step returns must lead to a
	// re-run; if none happened, resume is not exercising in-flight steps.
	if total["after-effect"] > 0 && reruns == 0 {
		t.Errorf("%d kills after an effect but no in-flight re-run", total["after-effect"])
	}
	n := 0
	for _, p := range append(crashPoints, "random") {
		if total[p] == 0 {
			t.Errorf("no kill at %s", p)
		}
		n += total[p]
	}
	t.Logf("%d kills: %v; %d in-flight re-runs", n, total, reruns)
}

func verifyLane(t *testing.T, l *lane) {
	t.Helper()
	st, err := Open(l.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := killFlow(st, nil, nil)
	all, _ := st.List(Filter{})
	exists := map[string]bool{}
	attempts := map[string]int{} // idempotency key -> attempts the history records
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
		if err := f.CheckHistory(h); err != nil {
			t.Errorf("%s: history does not fit the flow: %v", r.RunID, err)
		}
		want := runtime.StateDone
		if l.started[r.RunID] == "fail" {
			want = runtime.StateCompensated
		}
		if s.State != want {
			t.Errorf("%s (%s): ended %s, want %s", r.RunID, l.started[r.RunID], s.State, want)
		}
		for _, e := range h {
			if step, phase, _ := runtime.ParseMachineState(e.From); step != "" {
				key := r.RunID + "/" + step
				if phase == runtime.PhaseRollback {
					key += "/rollback"
				}
				attempts[key]++
			}
		}
	}
	// The ledger: every effect belongs to a run with a history; each action
	// ran at least as often as its history records attempts, and more only
	// by re-runs after kills that found it in flight (at least once for the
	// step in flight, never again for a completed one).
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
		if ran[key] < n {
			t.Errorf("%s: history records %d attempts, ledger %d effects", key, n, ran[key])
		}
	}
	for key, n := range ran {
		if extra := n - attempts[key]; extra > l.inFlight[key] {
			t.Errorf("%s: effect happened %d times for %d recorded attempts, but was in flight at only %d kills", key, n, attempts[key], l.inFlight[key])
		}
	}
	for key, n := range ran {
		l.reruns += n - attempts[key]
	}
}
