package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// pstate is the state of the parallel tests: each branch writes its field.
type pstate struct {
	Before string `json:"before,omitempty"`
	X      string `json:"x,omitempty"`
	Y      string `json:"y,omitempty"`
	Z      string `json:"z,omitempty"`
	After  string `json:"after,omitempty"`
	Junk   string `json:"junk,omitempty"` // written by branches without declaring it
}

// ptest builds Before -> Prepare{X, Y, Z} -> After, each step recording
// itself and its rollback in rec. exec, when set, replaces a branch's body.
type ptest struct {
	rec  *recorder
	sink *runtime.MemorySink
	exec map[string]func(ctx context.Context, s *pstate) (runtime.Outcome, error)
	opts map[string][]runtime.StepOption[pstate]
}

func newPtest() *ptest {
	return &ptest{rec: newRecorder(), sink: runtime.NewMemorySink(), exec: map[string]func(context.Context, *pstate) (runtime.Outcome, error){}, opts: map[string][]runtime.StepOption[pstate]{}}
}

func (p *ptest) step(id string, set func(s *pstate, v string), writes func(dst, src *pstate)) *runtime.Step[pstate] {
	exec := func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		if fn := p.exec[id]; fn != nil {
			if out, err := fn(ctx, s); err != nil || out != "" {
				return out, err
			}
		}
		p.rec.add("exec "+id, ctx)
		set(s, id+"@"+runtime.IdempotencyKey(ctx))
		s.Junk = id // not declared: discarded
		return runtime.OutcomeOK, nil
	}
	opts := append([]runtime.StepOption[pstate]{runtime.WithRollback(func(ctx context.Context, s *pstate) error {
		p.rec.add("undo "+id, ctx)
		return nil
	})}, p.opts[id]...)
	if writes != nil {
		opts = append(opts, runtime.WithWrites(writes))
	}
	return runtime.NewStep(id, exec, opts...)
}

func (p *ptest) flow(t testing.TB, opts ...runtime.Option) *runtime.Flow[pstate] {
	t.Helper()
	f := runtime.New[pstate]("par", append([]runtime.Option{runtime.WithSink(p.sink)}, opts...)...)
	err := f.Register(
		p.step("Before", func(s *pstate, v string) { s.Before = v }, nil),
		runtime.NewParallel("Prepare", []*runtime.Step[pstate]{
			p.step("X", func(s *pstate, v string) { s.X = v }, func(dst, src *pstate) { dst.X = src.X }),
			p.step("Y", func(s *pstate, v string) { s.Y = v }, func(dst, src *pstate) { dst.Y = src.Y }),
			p.step("Z", func(s *pstate, v string) { s.Z = v }, func(dst, src *pstate) { dst.Z = src.Z }),
		}),
		p.step("After", func(s *pstate, v string) { s.After = v }, nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkParallelHistory checks what every history of these tests must
// satisfy: it fits the flow, and Status is its Replay.
func checkParallelHistory(t *testing.T, f *runtime.Flow[pstate], runID string) []runtime.Event {
	t.Helper()
	h, err := f.History(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckHistory(h); err != nil {
		t.Fatalf("CheckHistory: %v\n%s", err, strings.Join(transitions(h), "\n"))
	}
	rep, err := runtime.Replay(h)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Status(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, rep) {
		t.Fatalf("Status != Replay(history):\n%+v\n%+v", st, rep)
	}
	return h
}

func TestParallelMerges(t *testing.T) {
	p := newPtest()
	f := p.flow(t)
	res, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	want := pstate{Before: "Before@r1/Before", X: "X@r1/X", Y: "Y@r1/Y", Z: "Z@r1/Z", After: "After@r1/After", Junk: "After"}
	if res.State != want {
		t.Fatalf("state %+v, want %+v (Junk: only After's, the branches' undeclared change is discarded)", res.State, want)
	}
	h := checkParallelHistory(t, f, "r1")
	var branch []string
	for _, e := range h {
		if e.Branch != "" {
			branch = append(branch, e.Branch+" "+e.From+">"+e.To)
		}
	}
	slices.Sort(branch)
	wantBranch := []string{
		"X Prepare:parallel>X:running", "X X:running>Prepare:parallel",
		"Y Prepare:parallel>Y:running", "Y Y:running>Prepare:parallel",
		"Z Prepare:parallel>Z:running", "Z Z:running>Prepare:parallel",
	}
	if !slices.Equal(branch, wantBranch) {
		t.Fatalf("branch events %q, want %q", branch, wantBranch)
	}
	main := []string{}
	for _, e := range h {
		if e.Branch == "" {
			main = append(main, e.From+">"+e.To)
		}
	}
	wantMain := []string{"pending>Before:running", "Before:running>Prepare:parallel", "Prepare:parallel>After:running", "After:running>done"}
	if !slices.Equal(main, wantMain) {
		t.Fatalf("run machine events %q, want %q", main, wantMain)
	}
	st, _ := f.Status(context.Background(), "r1")
	if len(st.Branches) != 3 {
		t.Fatalf("Status.Branches %+v", st.Branches)
	}
	for _, b := range st.Branches {
		if b.Machine != "Prepare:parallel" || b.Outcome != runtime.OutcomeOK || b.Attempt != 1 {
			t.Fatalf("branch status %+v", b)
		}
	}
}

// The branches really run at the same time: each waits for the others to
// have started.
func TestParallelConcurrent(t *testing.T) {
	p := newPtest()
	var started sync.WaitGroup
	started.Add(3)
	for _, id := range []string{"X", "Y", "Z"} {
		p.exec[id] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			started.Done()
			started.Wait()
			return "", nil
		}
	}
	f := p.flow(t)
	if _, err := f.Execute(context.Background(), pstate{}); err != nil {
		t.Fatal(err)
	}
}

// undos is the order of the rollbacks rec saw.
func undos(rec *recorder) []string { return rec.filter("undo ") }

// completions lists, newest first, the steps whose completion the history
// records (a branch joining with no error, a step leaving running with none).
func completions(h []runtime.Event) []string {
	var out []string
	for _, e := range h {
		if strings.HasSuffix(e.From, ":running") && e.Error == "" && e.Outcome != runtime.OutcomeRetry && e.To != e.From {
			out = append(out, "undo "+e.Step)
		}
	}
	slices.Reverse(out)
	return out
}

func TestParallelBranchFailureRollsBackNewestFirst(t *testing.T) {
	for _, failing := range []string{"X", "Y", "Z"} {
		t.Run(failing, func(t *testing.T) {
			p := newPtest()
			// The failing branch fails once the other two completed, so
			// that they are rolled back; their order is the history's.
			var others sync.WaitGroup
			others.Add(2)
			for _, id := range []string{"X", "Y", "Z"} {
				if id == failing {
					p.exec[id] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
						others.Wait()
						time.Sleep(time.Millisecond) // let their completions be recorded first, most of the time
						return "", runtime.Permanent(errBoom)
					}
					continue
				}
				p.opts[id] = []runtime.StepOption[pstate]{runtime.WithPublish[pstate]("t", "e", nil)}
				p.exec[id] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
					defer others.Done()
					return "", nil
				}
			}
			f := p.flow(t, runtime.WithPublisher(runtime.NewMemoryBus()))
			res, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r"))
			var se *runtime.StepError
			if !errors.As(err, &se) || se.Step != "Prepare" || !errors.Is(err, errBoom) || res.Final != runtime.StateCompensated {
				t.Fatalf("result %v %v (%#v)", res.Final, err, se)
			}
			h := checkParallelHistory(t, f, "r")
			got, want := undos(p.rec), completions(h)
			if !slices.Equal(got, want) || len(got) != 3 || got[2] != "undo Before" || slices.Contains(got, "undo "+failing) {
				t.Fatalf("rollbacks %q, want the completions newest first %q: the two other branches, then Before", got, want)
			}
			st, _ := f.Status(context.Background(), "r")
			if !strings.Contains(st.Err, "branch "+failing+": boom") {
				t.Fatalf("status error %q", st.Err)
			}
		})
	}
}

// A failing branch cancels the branches still running; one that returns
// its context's error is not rolled back, one that completes anyway is.
func TestParallelFailureCancelsOthers(t *testing.T) {
	p := newPtest()
	// Z fails only once X and Y have started: a branch cancelled before
	// its first attempt never runs, and so has nothing to roll back.
	var started sync.WaitGroup
	started.Add(2)
	p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Done()
		<-ctx.Done()
		if cause := context.Cause(ctx); !errors.Is(cause, runtime.ErrBranchCancelled) {
			t.Errorf("cancelled branch's cause %v, want ErrBranchCancelled", cause)
		}
		return "", ctx.Err()
	}
	p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Done()
		<-ctx.Done()
		return "", nil // completes anyway
	}
	p.exec["Z"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Wait()
		return "", runtime.Permanent(errBoom)
	}
	f := p.flow(t)
	res, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r"))
	if !errors.Is(err, errBoom) || res.Final != runtime.StateCompensated {
		t.Fatalf("result %v %v", res.Final, err)
	}
	if got := undos(p.rec); !slices.Equal(got, []string{"undo Y", "undo Before"}) {
		t.Fatalf("rollbacks %q", got)
	}
	checkParallelHistory(t, f, "r")
	st, _ := f.Status(context.Background(), "r")
	for _, b := range st.Branches {
		if b.Step == "X" && (b.Outcome != runtime.OutcomeError || !strings.Contains(b.Err, "another branch failed")) {
			t.Fatalf("cancelled branch %+v", b)
		}
	}
}

func TestParallelBranchTimeoutRoutesTimeout(t *testing.T) {
	p := newPtest()
	p.opts["Y"] = []runtime.StepOption[pstate]{runtime.WithTimeout[pstate](10 * time.Millisecond), runtime.WithRetry[pstate](runtime.RetryPolicy{Attempts: 2})}
	p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}
	f := runtime.New[pstate]("par", runtime.WithSink(p.sink))
	mustRegisterP(t, f,
		runtime.NewParallel("Prepare", []*runtime.Step[pstate]{
			p.step("X", func(s *pstate, v string) { s.X = v }, nil),
			p.step("Y", func(s *pstate, v string) { s.Y = v }, nil),
		}, runtime.WithNext[pstate](runtime.OutcomeTimeout, "Late")),
		p.step("After", func(s *pstate, v string) { s.After = v }, nil),
		p.step("Late", func(s *pstate, v string) { s.After = "late" }, nil),
	)
	res, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r"))
	if err != nil || res.State.After != "late" {
		t.Fatalf("result %+v %v", res, err)
	}
	h := checkParallelHistory(t, f, "r")
	if n := len(eventsTo(h, "Y:running")); n != 2 { // the start and one retry
		t.Fatalf("%d events to Y:running, want 2:\n%s", n, strings.Join(transitions(h), "\n"))
	}
}

func mustRegisterP(t testing.TB, f *runtime.Flow[pstate], steps ...*runtime.Step[pstate]) {
	t.Helper()
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
}

func TestParallelAbort(t *testing.T) {
	p := newPtest()
	entered := make(chan struct{}, 3)
	p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		return "", nil // completes at once
	}
	for _, id := range []string{"Y", "Z"} {
		p.exec[id] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			entered <- struct{}{}
			<-ctx.Done()
			return "", ctx.Err()
		}
	}
	f := p.flow(t)
	run, err := f.Start(context.Background(), pstate{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	<-entered
	// X's completion is recorded before the block can end.
	for !slices.Contains(p.rec.all(), "exec X") {
		time.Sleep(time.Millisecond)
	}
	if err := run.Abort(); err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(context.Background())
	if !errors.Is(err, runtime.ErrAborted) || res.Final != runtime.StateAborted {
		t.Fatalf("result %v %v", res.Final, err)
	}
	if got := undos(p.rec); !slices.Equal(got, []string{"undo X", "undo Before"}) {
		t.Fatalf("rollbacks %q", got)
	}
	h := checkParallelHistory(t, f, "r")
	if !slices.Contains(transitions(h), "Prepare:parallel>aborting") {
		t.Fatalf("the run does not leave the block by aborting:\n%s", strings.Join(transitions(h), "\n"))
	}
	// Y and Z, cut short, end marked so (their attempt's error wrapped
	// in ErrAborted's): no failure of their own, nor a cancellation by a
	// branch that failed.
	cut := 0
	for _, e := range h {
		if e.Branch == "" || e.To != "Prepare:parallel" || e.Error == "" {
			continue
		}
		cut++
		if !e.InterruptedBranch() || e.Cancelled() || e.Error != runtime.ErrAborted.Error()+": "+context.Canceled.Error() {
			t.Errorf("%s's end %+v: want it interrupted by the abort", e.Branch, e)
		}
	}
	if cut != 2 {
		t.Errorf("%d branch ends with an error, want 2 (Y, Z)", cut)
	}
}

// A crash with X completed and Y in flight: Resume (a new process, from
// the recorded history) does not run X again, runs Y again with the same
// idempotency key, starts Z, which had not started, and merges them all.
func TestParallelResumeMidBlock(t *testing.T) {
	p := newPtest()
	release := make(chan struct{})
	yIn := make(chan struct{})
	p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		p.rec.add("try Y", ctx)
		close(yIn)
		<-release
		return "", errors.New("the process died")
	}
	p.exec["Z"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		<-release
		return "", errors.New("the process died")
	}
	f := p.flow(t)
	run, err := f.Start(context.Background(), pstate{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-yIn
	var crashed []runtime.Event
	for {
		h := p.sink.History("r")
		if slices.ContainsFunc(h, func(e runtime.Event) bool { return e.Branch == "X" && e.To == "Prepare:parallel" }) {
			crashed = h
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Drop Z's start: the crash came before it was recorded.
	crashed = slices.DeleteFunc(slices.Clone(crashed), func(e runtime.Event) bool { return e.Branch == "Z" })
	for i := range crashed {
		crashed[i].Seq = uint64(i + 1)
	}
	close(release)
	run.Wait(context.Background()) // the old process's run ends its own way

	q := newPtest()
	q.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		if s.X != "" {
			return "", errors.New("branch Y sees X's write: not the state the block started with")
		}
		return "", nil
	}
	for _, e := range crashed {
		q.sink.Emit(context.Background(), e)
	}
	g := q.flow(t)
	resumed, err := g.Resume(context.Background(), crashed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := resumed.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q.rec.count("exec X") != 0 || q.rec.count("exec Y") != 1 || q.rec.count("exec Z") != 1 {
		t.Fatalf("after resume: %q", q.rec.all())
	}
	if k := q.rec.key["exec Y"][0]; k != p.rec.key["try Y"][0] || k != "r/Y" {
		t.Fatalf("Y's key %q after resume, %q before", k, p.rec.key["try Y"][0])
	}
	if res.State.X != "X@r/X" || res.State.Y != "Y@r/Y" || res.State.Z != "Z@r/Z" || res.State.After == "" {
		t.Fatalf("state %+v", res.State)
	}
	checkParallelHistory(t, g, "r")
}

// Resume from every prefix of a parallel run's history ends done, runs no
// completed step again, and leaves a history that fits the flow.
func TestParallelResumeFromEveryPrefix(t *testing.T) {
	p := newPtest()
	f := p.flow(t)
	if _, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	full := p.sink.History("r")
	for i := 1; i < len(full); i++ {
		q := newPtest()
		for _, e := range full[:i] {
			q.sink.Emit(context.Background(), e)
		}
		g := q.flow(t)
		run, err := g.Resume(context.Background(), full[:i])
		if err != nil {
			t.Fatalf("prefix %d: %v", i, err)
		}
		res, err := run.Wait(context.Background())
		if err != nil || res.Final != runtime.StateDone {
			t.Fatalf("prefix %d: %v %v", i, res.Final, err)
		}
		for _, e := range full[:i] {
			if e.Error == "" && strings.HasSuffix(e.From, ":running") && q.rec.count("exec "+e.Step) > 0 {
				t.Fatalf("prefix %d: %s completed before the crash and ran again", i, e.Step)
			}
		}
		if res.State.X == "" || res.State.Y == "" || res.State.Z == "" || res.State.After == "" {
			t.Fatalf("prefix %d: state %+v", i, res.State)
		}
		checkParallelHistory(t, g, "r")
	}
}

func TestParallelConcurrentRuns(t *testing.T) {
	p := newPtest()
	p.exec["Z"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		if strings.HasSuffix(runtime.RunID(ctx), "7") {
			return "", runtime.Permanent(errBoom)
		}
		return "", nil
	}
	f := p.flow(t)
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("run%d", i)
			res, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID(id))
			switch {
			case strings.HasSuffix(id, "7"):
				if res.Final != runtime.StateCompensated {
					errs <- fmt.Errorf("%s: %v %v", id, res.Final, err)
				}
			case err != nil || res.State.X != "X@"+id+"/X" || res.State.Z != "Z@"+id+"/Z":
				errs <- fmt.Errorf("%s: %+v %v", id, res.State, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		checkParallelHistory(t, f, fmt.Sprintf("run%d", i))
	}
}

func TestParallelDefinitionErrors(t *testing.T) {
	noop := func(ctx context.Context, s *pstate) (runtime.Outcome, error) { return "", nil }
	br := func(id string, opts ...runtime.StepOption[pstate]) *runtime.Step[pstate] {
		return runtime.NewStep(id, noop, opts...)
	}
	for name, tc := range map[string]struct {
		steps []*runtime.Step[pstate]
		want  string
	}{
		"branch routes": {[]*runtime.Step[pstate]{runtime.NewParallel("P", []*runtime.Step[pstate]{br("A", runtime.WithNext[pstate]("ok", "B")), br("B")})}, "branches end where the block ends"},
		"branch waits":  {[]*runtime.Step[pstate]{runtime.NewParallel("P", []*runtime.Step[pstate]{runtime.NewSleep[pstate]("A", time.Second, nil)})}, "a branch cannot wait"},
		// A call waits for its child run. Register took it, and the
		// branch completed at once without starting the child.
		"branch calls":  {[]*runtime.Step[pstate]{runtime.NewParallel("P", []*runtime.Step[pstate]{runtime.NewCall[pstate, pstate]("A", runtime.New[pstate]("child"), nil, nil)})}, "a branch cannot wait"},
		"block acts":    {[]*runtime.Step[pstate]{{ID: "P", Exec: noop, Branches: []*runtime.Step[pstate]{br("A")}}}, "an action or rollback of its own"},
		"duplicate":     {[]*runtime.Step[pstate]{br("A"), runtime.NewParallel("P", []*runtime.Step[pstate]{br("A")})}, `duplicate step "A"`},
		"into a branch": {[]*runtime.Step[pstate]{br("S", runtime.WithNext[pstate]("ok", "A")), runtime.NewParallel("P", []*runtime.Step[pstate]{br("A")})}, `a branch of parallel block "P"`},
	} {
		t.Run(name, func(t *testing.T) {
			f := runtime.New[pstate]("bad")
			err := f.Register(tc.steps...)
			if err == nil {
				_, err = f.Execute(context.Background(), pstate{})
			}
			if !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParallelHistoryErrors(t *testing.T) {
	p := newPtest()
	f := p.flow(t)
	if _, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	full := p.sink.History("r")
	var leave int // the event leaving the block
	for i, e := range full {
		if e.From == "Prepare:parallel" && e.Branch == "" {
			leave = i
		}
	}
	// The block left before its last branch joined.
	bad := slices.Clone(full)
	bad[leave-1], bad[leave] = bad[leave], bad[leave-1]
	bad[leave-1].Seq, bad[leave].Seq = bad[leave].Seq, bad[leave-1].Seq
	if err := f.CheckHistory(bad); !errors.Is(err, runtime.ErrHistory) {
		t.Fatalf("CheckHistory of a block left early: %v", err)
	}
	if _, err := runtime.Replay(bad); !errors.Is(err, runtime.ErrHistory) {
		t.Fatalf("Replay of a block left early: %v", err)
	}
	// A branch event without its branch's name.
	bad = slices.Clone(full)
	for i := range bad {
		if bad[i].Branch == "Y" {
			bad[i].Branch = ""
			break
		}
	}
	if err := f.CheckHistory(bad); !errors.Is(err, runtime.ErrHistory) {
		t.Fatalf("CheckHistory of a fork on the run's machine: %v", err)
	}
}

// Suspend during a block: the attempts in flight finish and are recorded,
// a branch that would retry stops; Resume runs only what is left.
func TestParallelSuspendResume(t *testing.T) {
	p := newPtest()
	release := make(chan struct{})
	in := make(chan struct{})
	p.opts["Y"] = []runtime.StepOption[pstate]{runtime.WithRetry[pstate](runtime.RetryPolicy{Attempts: 3})}
	p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		if runtime.Attempt(ctx) == 1 {
			close(in)
			<-release
			return "", errBoom // retried after the resume
		}
		return "", nil
	}
	f := p.flow(t)
	run, err := f.Start(context.Background(), pstate{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-in
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	close(release)
	if _, err := run.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("wait: %v", err)
	}
	h := p.sink.History("r")
	resumed, err := f.Resume(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	res, err := resumed.Wait(context.Background())
	if err != nil || res.State.Y != "Y@r/Y" {
		t.Fatalf("%+v %v", res.State, err)
	}
	for _, id := range []string{"X", "Y", "Z", "Before"} {
		if n := p.rec.count("exec " + id); n != 1 {
			t.Fatalf("%s ran %d times: %q", id, n, p.rec.all())
		}
	}
	checkParallelHistory(t, f, "r")
}

// A cycle of parallel blocks that never waits is failed by the history
// bound, as a cycle of steps is: the block checks it as it is entered. The
// bound was never checked there (a branch checks it only before a retry), so such a run
// recorded events without end. Here a cycle of blocks, P -> Q -> P, after
// a step that is rolled back.
func TestParallelCycleHitsHistoryBound(t *testing.T) {
	p := newPtest()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int64
	body := func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		if runs.Add(1) > 10_000 { // far past the bound: the run is not going to stop
			cancel()
		}
		return "", nil
	}
	f := runtime.New[pstate]("cycle", runtime.WithSink(p.sink), runtime.WithMaxHistory(100))
	blockP := runtime.NewParallel("P", []*runtime.Step[pstate]{
		runtime.NewStep("A", body, runtime.WithIrreversible[pstate]()),
		runtime.NewStep("B", body, runtime.WithIrreversible[pstate]()),
	})
	blockQ := runtime.NewParallel("Q", []*runtime.Step[pstate]{
		runtime.NewStep("C", body, runtime.WithIrreversible[pstate]()),
	})
	blockQ.Next = map[runtime.Outcome]string{runtime.OutcomeOK: "P"}
	if err := f.Register(p.step("Before", func(s *pstate, v string) { s.Before = v }, nil), blockP, blockQ); err != nil {
		t.Fatal(err)
	}
	res, err := f.Execute(ctx, pstate{}, runtime.WithRunID("r"))
	if res.Final != runtime.StateCompensated || !errors.Is(err, runtime.ErrHistoryLimit) {
		t.Fatalf("run ended %s (%v), want compensated by the history bound", res.Final, err)
	}
	if !slices.Equal(undos(p.rec), []string{"undo Before"}) {
		t.Errorf("rollbacks %q, want Before's", undos(p.rec))
	}
	h, err := f.History(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	// The bound is checked as a block is entered: P's visit (2 forks, 2
	// joins, its end) may cross it; then the run fails, rolls Before back
	// and ends (4 events).
	if len(h) > 100+5+4 {
		t.Errorf("%d events recorded, bound 100", len(h))
	}
	if err := f.CheckHistory(h); err != nil {
		t.Fatalf("CheckHistory: %v", err)
	}
	if st, err := runtime.Replay(h); err != nil || !strings.Contains(st.Err, runtime.ErrHistoryLimit.Error()) {
		t.Errorf("replayed status %+v, %v", st, err)
	}
}

// Resume from every prefix of a run whose branch Z fails once X and Y
// completed: the run ends compensated, no completed step runs again, no
// rollback recorded before the crash runs again, and the rollbacks, before
// and after the crash, undo the completions newest first.
func TestParallelResumeFailingFromEveryPrefix(t *testing.T) {
	failZ := func(p *ptest, afterOthers bool) {
		var others sync.WaitGroup
		others.Add(2)
		for _, id := range []string{"X", "Y"} {
			var once sync.Once
			p.exec[id] = func(context.Context, *pstate) (runtime.Outcome, error) {
				once.Do(others.Done)
				return "", nil
			}
		}
		p.exec["Z"] = func(context.Context, *pstate) (runtime.Outcome, error) {
			if afterOthers {
				others.Wait() // so that X and Y are rolled back
			}
			return "", runtime.Permanent(errBoom)
		}
	}
	p := newPtest()
	failZ(p, true)
	if res, _ := p.flow(t).Execute(context.Background(), pstate{}, runtime.WithRunID("r")); res.Final != runtime.StateCompensated {
		t.Fatalf("the full run ended %s", res.Final)
	}
	full := p.sink.History("r")
	for i := 1; i < len(full); i++ {
		q := newPtest()
		failZ(q, false) // resumed: X and Y completed already, or run again now
		for _, e := range full[:i] {
			q.sink.Emit(context.Background(), e)
		}
		g := q.flow(t)
		run, err := g.Resume(context.Background(), full[:i])
		if err != nil {
			t.Fatalf("prefix %d: %v", i, err)
		}
		if res, _ := run.Wait(context.Background()); res.Final != runtime.StateCompensated {
			t.Fatalf("prefix %d: ended %s", i, res.Final)
		}
		var undone []string // before the crash, then after
		for _, e := range full[:i] {
			if strings.HasSuffix(e.From, ":rollback") && e.Error == "" {
				undone = append(undone, "undo "+e.Step)
			}
		}
		undone = append(undone, undos(q.rec)...)
		h := checkParallelHistory(t, g, "r")
		if want := completions(h); !slices.Equal(undone, want) {
			t.Fatalf("prefix %d: rollbacks %q, want the completions newest first %q", i, undone, want)
		}
		for _, e := range full[:i] {
			if e.Error == "" && strings.HasSuffix(e.From, ":running") && e.To != e.From && q.rec.count("exec "+e.Step) > 0 {
				t.Fatalf("prefix %d: %s completed before the crash and ran again", i, e.Step)
			}
		}
	}
}

// A cancelled branch that returns its context's cause, as Go code does
// since context.Cause, records the cancellation once: its error was
// "runtime: branch cancelled: another branch failed: runtime: branch
// cancelled: another branch failed" in the history and Status.
func TestParallelCancelledBranchReturningCause(t *testing.T) {
	p := newPtest()
	var started sync.WaitGroup
	started.Add(1)
	p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Done()
		<-ctx.Done()
		return "", context.Cause(ctx)
	}
	p.exec["Z"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Wait()
		return "", runtime.Permanent(errBoom)
	}
	f := p.flow(t)
	if _, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	h := checkParallelHistory(t, f, "r")
	found := false
	for _, e := range h {
		if e.Branch == "X" && e.Outcome == runtime.OutcomeError {
			found = true
			if e.Error != runtime.ErrBranchCancelled.Error() || !e.Cancelled() {
				t.Errorf("cancelled branch X recorded error %q (cancelled %v), want %q", e.Error, e.Cancelled(), runtime.ErrBranchCancelled)
			}
		}
	}
	if !found {
		t.Fatalf("no end of branch X:\n%s", strings.Join(transitions(h), "\n"))
	}
}

// A branch cancelled in the backoff after its first attempt failed made
// one attempt: its Status.Branches entry says attempt 1 (runtime.Branch:
// "the last one once it ended"), as live and in the Replay of its history.
// It said 0, the ending event's Attempt (no attempt ended then).
func TestParallelBranchCancelledInBackoffKeepsItsAttempt(t *testing.T) {
	p := newPtest()
	clock := runtime.NewFakeClock(time.Unix(0, 0))
	p.opts["X"] = []runtime.StepOption[pstate]{runtime.WithRetry[pstate](runtime.RetryPolicy{Attempts: 3, Initial: time.Hour})}
	p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		return "", errors.New("card service unavailable")
	}
	p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		clock.BlockUntil(1) // X's backoff: its retry is recorded
		return "", runtime.Permanent(errBoom)
	}
	f := runtime.New[pstate]("par", runtime.WithSink(p.sink), runtime.WithClock(clock))
	mustRegisterP(t, f,
		runtime.NewParallel("Prepare", []*runtime.Step[pstate]{
			p.step("X", func(s *pstate, v string) { s.X = v }, nil),
			p.step("Y", func(s *pstate, v string) { s.Y = v }, nil),
		}),
	)
	if _, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	h := checkParallelHistory(t, f, "r")
	st, err := f.Status(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "X" })
	if i < 0 {
		t.Fatalf("no branch X in %+v", st.Branches)
	}
	if b := st.Branches[i]; !b.Cancelled || b.Attempt != 1 {
		t.Fatalf("branch X %+v, want cancelled after attempt 1:\n%s", b, strings.Join(transitions(h), "\n"))
	}
}

// A run resumed inside a parallel block after one of its branches failed
// ends the block as the run would have without the crash: with the
// failing branch's outcome (timeout here, which the block routes to Late
// rather than to fail), and its error, the one the history recorded for
// the branch. It ended "error" with "failed before the run was resumed",
// so a crash changed where the run went; and it named the first failed
// branch in the block's order, a branch the failure had cancelled when
// that one's end was recorded before the crash.
func TestParallelResumeAfterBranchFailedKeepsItsOutcome(t *testing.T) {
	slow := fmt.Errorf("%w: the warehouse did not answer", runtime.ErrTimeout)
	build := func(p *ptest) *runtime.Flow[pstate] {
		// X runs until the block cancels it; Y times out. X comes first
		// in the block, so a resume that takes the first failed branch
		// in the block's order names X, which did not fail by itself.
		p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}
		p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			return "", runtime.Permanent(slow)
		}
		f := runtime.New[pstate]("par", runtime.WithSink(p.sink))
		mustRegisterP(t, f,
			runtime.NewParallel("Prepare", []*runtime.Step[pstate]{
				p.step("X", func(s *pstate, v string) { s.X = v }, func(dst, src *pstate) { dst.X = src.X }),
				p.step("Y", func(s *pstate, v string) { s.Y = v }, func(dst, src *pstate) { dst.Y = src.Y }),
			}, runtime.WithNext[pstate](runtime.OutcomeTimeout, "Late")),
			p.step("After", func(s *pstate, v string) { s.After = v }, nil),
			p.step("Late", func(s *pstate, v string) { s.After = "late" }, nil),
		)
		return f
	}
	// leaving is the event that leaves the block.
	leaving := func(h []runtime.Event) runtime.Event {
		for _, e := range h {
			if e.Branch == "" && e.From == runtime.ParallelState("Prepare") {
				return e
			}
		}
		t.Fatalf("the run never left the block:\n%s", strings.Join(transitions(h), "\n"))
		return runtime.Event{}
	}
	p := newPtest()
	if res, err := build(p).Execute(context.Background(), pstate{}, runtime.WithRunID("r")); err != nil || res.State.After != "late" {
		t.Fatalf("the full run: %+v %v", res, err)
	}
	full := p.sink.History("r")
	want := leaving(full)
	if want.Outcome != runtime.OutcomeTimeout || want.Error != "branch Y: "+slow.Error() {
		t.Fatalf("the full run left the block with %q %q", want.Outcome, want.Error)
	}
	// Each prefix that ends in the block once Y's failure is recorded: X
	// still running, or X's cancellation recorded too.
	yFailed := slices.IndexFunc(full, func(e runtime.Event) bool { return e.Branch == "Y" && e.Error != "" })
	for i := yFailed + 1; i < len(full) && full[i-1].To != want.To; i++ {
		q := newPtest()
		for _, e := range full[:i] {
			q.sink.Emit(context.Background(), e)
		}
		g := build(q)
		run, err := g.Resume(context.Background(), full[:i])
		if err != nil {
			t.Fatalf("prefix %d: %v", i, err)
		}
		res, err := run.Wait(context.Background())
		h := checkParallelHistory(t, g, "r")
		if err != nil || res.State.After != "late" {
			t.Errorf("prefix %d: ended %s %v, want done through Late:\n%s", i, res.Final, err, strings.Join(transitions(h), "\n"))
		}
		if got := leaving(h); got.Outcome != want.Outcome || got.Error != want.Error {
			t.Errorf("prefix %d: left the block with %q %q, want %q %q", i, got.Outcome, got.Error, want.Outcome, want.Error)
		}
	}
}

// redacted is an error with a text of its own that wraps its cause, as
// the engine's rpc Caller returns for a request that failed (the text
// says the server's log has the cause; the chain keeps it).
type redacted struct{ cause error }

func (e redacted) Error() string { return "request failed" }
func (e redacted) Unwrap() error { return e.cause }

// A cancelled branch whose attempt returns an error wrapping the
// cancellation, under a text of its own, is recorded as cancelled
// (Event.Cancelled, Status.Branches): its error starts with
// ErrBranchCancelled's. It was recorded as the attempt's error alone, so
// the branch read as failed by itself, on flowgen serve an rpc branch
// cut short by another's failure (found on a real serve, whose rpc
// Caller's errors wrap their cause under "request failed").
func TestParallelCancelledBranchWrappingCause(t *testing.T) {
	p := newPtest()
	var started sync.WaitGroup
	started.Add(1)
	p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Done()
		<-ctx.Done()
		return "", redacted{fmt.Errorf("Post %q: %w", "http://svc/x", context.Cause(ctx))}
	}
	p.exec["Z"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Wait()
		return "", runtime.Permanent(errBoom)
	}
	f := p.flow(t)
	if _, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	h := checkParallelHistory(t, f, "r")
	i := slices.IndexFunc(h, func(e runtime.Event) bool { return e.Branch == "X" && e.Outcome == runtime.OutcomeError })
	if i < 0 {
		t.Fatalf("no end of branch X:\n%s", strings.Join(transitions(h), "\n"))
	}
	if e := h[i]; !e.Cancelled() || e.Error != runtime.ErrBranchCancelled.Error()+": request failed" {
		t.Errorf("cancelled branch X recorded error %q (cancelled %v), want %q wrapping the attempt's", e.Error, e.Cancelled(), runtime.ErrBranchCancelled)
	}
	st, err := f.Status(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if j := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "X" }); j < 0 || !st.Branches[j].Cancelled {
		t.Errorf("Status.Branches %+v: X is not cancelled", st.Branches)
	}
}

// A cancelled branch whose attempt then ends with a timeout (its own
// call's, which it waited for; on Temporal an attempt that does not
// heartbeat runs on to its timeout) ended because another branch failed,
// as one that ends with an error: its event and its Status.Branches entry
// say cancelled. They said it failed by itself (outcome timeout, not
// cancelled), and the web view showed it as a failure of its own.
func TestParallelCancelledBranchTimingOut(t *testing.T) {
	p := newPtest()
	var started sync.WaitGroup
	started.Add(1)
	p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Done()
		<-ctx.Done()
		return "", fmt.Errorf("%w: the card service did not answer", runtime.ErrTimeout)
	}
	p.exec["Z"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
		started.Wait()
		return "", runtime.Permanent(errBoom)
	}
	f := p.flow(t)
	if _, err := f.Execute(context.Background(), pstate{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	h := checkParallelHistory(t, f, "r")
	i := slices.IndexFunc(h, func(e runtime.Event) bool { return e.Branch == "X" && e.Outcome == runtime.OutcomeTimeout })
	if i < 0 || !h[i].Cancelled() {
		var x []string
		for _, e := range h {
			if e.Branch == "X" {
				x = append(x, fmt.Sprintf("%s>%s #%d %s: %s", e.From, e.To, e.Attempt, e.Outcome, e.Error))
			}
		}
		t.Fatalf("branch X's end is not a cancelled timeout:\n%s", strings.Join(x, "\n"))
	}
	st, err := f.Status(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if j := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "X" }); j < 0 || !st.Branches[j].Cancelled {
		t.Fatalf("branch X %+v, want cancelled", st.Branches)
	}
}

// Status.Branches are the branches of the last block the run entered,
// also when a block routes straight into another (here the first block
// fails and its `error` goes to the second): before, the second block
// did not clear the first's, so the status listed both blocks' branches,
// the first's failure among them.
func TestStatusBranchesOfBlockAfterBlock(t *testing.T) {
	ok := func(id string) *runtime.Step[state] {
		return runtime.NewStep(id, func(context.Context, *state) (runtime.Outcome, error) { return runtime.OutcomeOK, nil })
	}
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("blocks", runtime.WithSink(sink))
	mustRegister(t, f,
		runtime.NewParallel("First", []*runtime.Step[state]{
			runtime.NewStep("Fails", func(context.Context, *state) (runtime.Outcome, error) {
				return "", runtime.Permanent(errors.New("boom"))
			}),
		}, runtime.WithNext[state](runtime.OutcomeError, "Second")),
		runtime.NewParallel("Second", []*runtime.Step[state]{ok("A"), ok("B")}),
	)
	if res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r")); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("Execute = %s, %v", res.Final, err)
	}
	st, err := runtime.Replay(sink.History("r"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range st.Branches {
		got = append(got, b.Step)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("Status.Branches of %v, want A and B", got)
	}
}

// A run resumed after a branch failed, while another branch was in the
// backoff of its retry, ends that branch as the run without the crash
// did: cancelled with no attempt ended (Attempt 0), so its status says
// the last attempt made is the one the retry recorded. The wind-down
// recorded the next attempt as ended (Attempt 2), an attempt that never
// ran, in the history and in Status.Branches (found by
// TestKillNewConstructs in runtime/store: a ledger of one effect for two
// attempts).
func TestParallelResumeWindsDownBranchInBackoff(t *testing.T) {
	build := func(p *ptest, clock *runtime.FakeClock, live bool) *runtime.Flow[pstate] {
		p.opts["X"] = []runtime.StepOption[pstate]{runtime.WithRetry[pstate](runtime.RetryPolicy{Attempts: 3, Initial: time.Hour})}
		p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			return "", errors.New("card service unavailable")
		}
		p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			if live {
				clock.BlockUntil(1) // X's backoff: its retry is recorded
			}
			return "", runtime.Permanent(errBoom)
		}
		f := runtime.New[pstate]("par", runtime.WithSink(p.sink), runtime.WithClock(clock))
		mustRegisterP(t, f,
			runtime.NewParallel("Prepare", []*runtime.Step[pstate]{
				p.step("X", func(s *pstate, v string) { s.X = v }, nil),
				p.step("Y", func(s *pstate, v string) { s.Y = v }, nil),
			}),
		)
		return f
	}
	p := newPtest()
	if _, err := build(p, runtime.NewFakeClock(time.Unix(0, 0)), true).Execute(context.Background(), pstate{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	full := p.sink.History("r")
	yFailed := slices.IndexFunc(full, func(e runtime.Event) bool { return e.Branch == "Y" && e.Error != "" })
	xRetried := slices.IndexFunc(full, func(e runtime.Event) bool { return e.Branch == "X" && e.Outcome == runtime.OutcomeRetry })
	xEnd := slices.IndexFunc(full, func(e runtime.Event) bool { return e.Branch == "X" && e.To == runtime.ParallelState("Prepare") })
	if yFailed < 0 || xRetried < 0 || xRetried > yFailed || xEnd < yFailed || full[xEnd].Attempt != 0 {
		t.Fatalf("the full run:\n%s", strings.Join(transitions(full), "\n"))
	}
	q := newPtest()
	for _, e := range full[:yFailed+1] { // the crash: X in its backoff, Y failed
		q.sink.Emit(context.Background(), e)
	}
	g := build(q, runtime.NewFakeClock(time.Unix(0, 0)), false)
	run, err := g.Resume(context.Background(), full[:yFailed+1])
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := run.Wait(context.Background()); res.Final != runtime.StateFailed {
		t.Fatalf("the resumed run ended %s, want failed", res.Final)
	}
	h := checkParallelHistory(t, g, "r")
	got := h[xEnd]
	if got.Branch != "X" || got.Attempt != 0 || !got.Cancelled() || q.rec.count("exec X") != 0 {
		t.Fatalf("X ended after the resume with %+v (X ran %d times), want cancelled with no attempt ended:\n%s", got, q.rec.count("exec X"), strings.Join(transitions(h), "\n"))
	}
	st, err := runtime.Replay(h)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "X" }); i < 0 || st.Branches[i].Attempt != 1 {
		t.Fatalf("branches %+v, want X's last attempt 1", st.Branches)
	}
}

// A run resumed after a branch failed, while another branch had started
// (no retry recorded), ends that branch cancelled with no attempt ended
// (Attempt 0): the history cannot tell whether its first attempt had
// begun (a crash right after the start), and an event's Attempt says an
// attempt ended (TestKillNewConstructs found such branches recorded with
// Attempt 1 and no effect in its ledger).
func TestParallelResumeWindsDownBranchStarted(t *testing.T) {
	build := func(p *ptest) *runtime.Flow[pstate] {
		started := make(chan struct{})
		p.exec["X"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			close(started)
			<-ctx.Done() // until the block cancels it
			return "", context.Cause(ctx)
		}
		p.exec["Y"] = func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
			<-started // fails during X's attempt
			return "", runtime.Permanent(errBoom)
		}
		f := runtime.New[pstate]("par", runtime.WithSink(p.sink))
		mustRegisterP(t, f,
			runtime.NewParallel("Prepare", []*runtime.Step[pstate]{
				p.step("X", func(s *pstate, v string) { s.X = v }, nil),
				p.step("Y", func(s *pstate, v string) { s.Y = v }, nil),
			}),
		)
		return f
	}
	p := newPtest()
	if _, err := build(p).Execute(context.Background(), pstate{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	full := p.sink.History("r")
	yFailed := slices.IndexFunc(full, func(e runtime.Event) bool { return e.Branch == "Y" && e.Error != "" })
	xEnd := slices.IndexFunc(full, func(e runtime.Event) bool { return e.Branch == "X" && e.To == runtime.ParallelState("Prepare") })
	if yFailed < 0 || xEnd < yFailed || full[xEnd].Attempt != 1 {
		t.Fatalf("the full run:\n%s", strings.Join(transitions(full), "\n"))
	}
	q := newPtest()
	for _, e := range full[:yFailed+1] {
		q.sink.Emit(context.Background(), e)
	}
	g := build(q)
	run, err := g.Resume(context.Background(), full[:yFailed+1])
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := run.Wait(context.Background()); res.Final != runtime.StateFailed {
		t.Fatalf("the resumed run ended %s, want failed", res.Final)
	}
	h := checkParallelHistory(t, g, "r")
	if got := h[xEnd]; got.Branch != "X" || got.Attempt != 0 || !got.Cancelled() || q.rec.count("exec X") != 0 {
		t.Fatalf("X ended after the resume with %+v, want cancelled with no attempt ended:\n%s", got, strings.Join(transitions(h), "\n"))
	}
}

// A branch's copy of the state is shallow (docs/language.md and
// docs/runtime.md, "Parallel blocks"): a change made through a pointer
// field reaches the run's state though the branch writes no field, while a
// change to a field of the copy itself is discarded.
func TestParallelCopyIsShallow(t *testing.T) {
	type inner struct{ Tier string }
	type state struct {
		P *inner
		X string
	}
	f := runtime.New[state]("shallow")
	err := f.Register(runtime.NewParallel("Block", []*runtime.Step[state]{
		runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			s.P.Tier, s.X = "A", "A"
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[state]()),
	}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Execute(context.Background(), state{P: &inner{Tier: "before"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.State.P.Tier != "A" || res.State.X != "" {
		t.Fatalf("state after the block: P.Tier %q, X %q; want %q (shared through the pointer), %q (discarded)", res.State.P.Tier, res.State.X, "A", "")
	}
}
