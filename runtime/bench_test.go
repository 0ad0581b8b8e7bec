package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/looplab/fsm"

	"github.com/flowgen/flowgen/runtime"
)

// The benchmarks compare a 10-step flow of no-op steps on the runtime
// (memory sink) with two baselines measured in the same run:
//   - hand-written Go doing the same work: a retry loop per step, a rollback
//     stack, and an event per transition (the same fields as the runtime's:
//     time, flow, step, states, attempt, outcome, JSON state snapshot)
//     appended to an in-memory history. Like the runtime, it encodes the
//     state again only when it changed: a careful engineer would, and a
//     baseline that re-encodes unchanged states would flatter the runtime;
//   - raw looplab/fsm firing 10 events on a machine built once.
//
// Run: go test -run '^$' -bench 'Flow10|Baseline' -benchmem ./runtime/

const benchSteps = 10

type benchState struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

// benchFlow is the 10-step flow on sink; nil: no sink (runtime.New's
// default, which keeps nothing).
func benchFlow(sink runtime.Sink) *runtime.Flow[benchState] {
	var opts []runtime.Option
	if sink != nil {
		opts = append(opts, runtime.WithSink(sink))
	}
	f := runtime.New[benchState]("bench", opts...)
	undo := func(context.Context, *benchState) error { return nil }
	for i := range benchSteps {
		if err := f.Register(runtime.NewStep(fmt.Sprintf("Step%d", i), func(context.Context, *benchState) (runtime.Outcome, error) {
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(undo), runtime.WithRetry[benchState](runtime.RetryPolicy{Attempts: 3, Initial: time.Millisecond}))); err != nil {
			panic(err)
		}
	}
	return f
}

// handEvent is what the hand-written baseline records per transition.
type handEvent struct {
	RunID, Flow, Step, From, To string
	Seq                         uint64
	Time                        time.Time
	Attempt                     int
	Outcome, Error              string
	State                       []byte
}

type handStep struct {
	id       string
	exec     func(context.Context, *benchState) error
	rollback func(context.Context, *benchState) error
}

var handSteps = func() []handStep {
	steps := make([]handStep, benchSteps)
	for i := range steps {
		steps[i] = handStep{
			id:       fmt.Sprintf("Step%d", i),
			exec:     func(context.Context, *benchState) error { return nil },
			rollback: func(context.Context, *benchState) error { return nil },
		}
	}
	return steps
}()

// handWritten runs the steps the way a careful engineer would without a
// runtime: retry with backoff, a rollback stack, an event per transition.
func handWritten(ctx context.Context, runID string, s *benchState) ([]handEvent, error) {
	history := make([]handEvent, 0, 16)
	stack := make([]int, 0, len(handSteps))
	seq := uint64(0)
	var snap []byte
	var snapped benchState // the state snap encodes
	record := func(step, from, to string, attempt int, outcome string, err error) error {
		if snap == nil || *s != snapped {
			var jerr error
			if snap, jerr = json.Marshal(s); jerr != nil {
				return jerr
			}
			snapped = *s
		}
		seq++
		e := handEvent{RunID: runID, Flow: "bench", Step: step, From: from, To: to, Seq: seq, Time: time.Now(), Attempt: attempt, Outcome: outcome, State: snap}
		if err != nil {
			e.Error = err.Error()
		}
		history = append(history, e)
		return nil
	}
	if err := record(handSteps[0].id, "pending", handSteps[0].id, 0, "", nil); err != nil {
		return history, err
	}
	var failed error
	for i, st := range handSteps {
		var err error
		attempt := 1
		for ; ; attempt++ {
			if err = st.exec(ctx, s); err == nil || attempt == 3 {
				break
			}
			time.Sleep(time.Millisecond << attempt)
		}
		if err != nil {
			failed = err
			if err := record(st.id, st.id, "failing", attempt, "error", err); err != nil {
				return history, err
			}
			break
		}
		stack = append(stack, i)
		to := "done"
		if i+1 < len(handSteps) {
			to = handSteps[i+1].id
		}
		if err := record(st.id, st.id, to, attempt, "ok", nil); err != nil {
			return history, err
		}
	}
	if failed != nil {
		for i := len(stack) - 1; i >= 0; i-- {
			st := handSteps[stack[i]]
			err := st.rollback(ctx, s)
			if err := record(st.id, st.id+":rollback", "failing", 1, "", err); err != nil {
				return history, err
			}
		}
		return history, failed
	}
	return history, nil
}

func runHandWritten(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		s := benchState{ID: "x"}
		if _, err := handWritten(ctx, "run", &s); err != nil {
			b.Fatal(err)
		}
	}
}

var rawEvents, rawNames = func() (fsm.Events, []string) {
	var evs fsm.Events
	names := make([]string, benchSteps)
	prev := "pending"
	for i := range names {
		names[i] = fmt.Sprintf("Step%d", i)
		evs = append(evs, fsm.EventDesc{Name: names[i], Src: []string{prev}, Dst: names[i]})
		prev = names[i]
	}
	return evs, names
}()

func runRawFSM(b *testing.B) {
	b.ReportAllocs()
	m := fsm.NewFSM("pending", rawEvents, nil)
	ctx := context.Background()
	for b.Loop() {
		m.SetState("pending")
		for _, name := range rawNames {
			if err := m.Event(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBaselineHandWritten10 and BenchmarkBaselineRawFSM10 show the
// baselines on their own.
func BenchmarkBaselineHandWritten10(b *testing.B) { runHandWritten(b) }
func BenchmarkBaselineRawFSM10(b *testing.B)      { runRawFSM(b) }

// BenchmarkAloneMemorySink and BenchmarkAloneNoSink run the flow of
// BenchmarkFlow10 alone, on the memory sink (reset every 4,096 runs, as
// there) and with no sink: one subject per process, for counting
// instructions (docs/benchmarks.md, issue 8: under valgrind, with
// GODEBUG=cpu.rdtscp=off) and for profiles of one subject. Their names
// leave them out of -bench Flow10.
func BenchmarkAloneMemorySink(b *testing.B) {
	sink := runtime.NewMemorySink()
	runAlone(b, benchFlow(sink), sink)
}

func BenchmarkAloneNoSink(b *testing.B) { runAlone(b, benchFlow(nil), nil) }

func runAlone(b *testing.B, f *runtime.Flow[benchState], sink *runtime.MemorySink) {
	b.ReportAllocs()
	ctx := context.Background()
	runs := 0
	for b.Loop() {
		if runs++; sink != nil && runs%4096 == 0 {
			sink.Reset()
		}
		if _, err := f.Execute(ctx, benchState{ID: "x"}); err != nil {
			b.Fatal(err)
		}
	}
}

// blockCost accumulates the time of blocks of ops.
type blockCost struct {
	ns  float64
	ops int
}

// run times a block of n ops.
func (c *blockCost) run(n int, op func()) {
	start := time.Now()
	for range n {
		op()
	}
	c.ns += float64(time.Since(start).Nanoseconds())
	c.ops += n
}

func (c *blockCost) perOp() float64 { return c.ns / float64(c.ops) }

// allocsPerOp counts the allocations of n ops. It runs apart from the timed
// blocks: reading the memory statistics stops the world and empties every
// P's allocation caches, so reading them around each block would charge
// every block with refilling the caches of each size class it uses, which
// costs the flow (a dozen size classes) more than the baselines (a few),
// and happens twenty times as often as in a process that is not measured
// (where a garbage collection empties them, every few hundred runs here).
func allocsPerOp(n int, op func()) (allocs, bytes float64) {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for range n {
		op()
	}
	goruntime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// BenchmarkFlow10 runs the 10-step flow and, interleaved with it in blocks
// so that all see the same machine load, the two baselines; allocations are
// counted afterwards (see allocsPerOp). ns/op, B/op and allocs/op are
// overridden to be the flow's own cost per run (10 steps);
// ns/step and allocs/step divide by the steps; x-handwritten and x-rawfsm
// are the flow's time over each baseline's time for the same 10 steps.
// x-rawfsm-nosink is the same flow with no sink (runtime.New's default)
// over raw looplab/fsm: the runtime's own work, without the memory sink's
// retained histories, which the garbage collector scans.
func BenchmarkFlow10(b *testing.B) {
	sink := runtime.NewMemorySink()
	f := benchFlow(sink)
	ctx := context.Background()
	// The hand-written baseline records as many events as the runtime.
	if _, err := f.Execute(ctx, benchState{ID: "x"}, runtime.WithRunID("check")); err != nil {
		b.Fatal(err)
	}
	s := benchState{ID: "x"}
	if hand, err := handWritten(ctx, "check", &s); err != nil || len(hand) != len(sink.History("check")) {
		b.Fatalf("hand-written baseline: %d events, %v; the runtime records %d", len(hand), err, len(sink.History("check")))
	}
	sink.Reset()
	runs := 0
	flowOp := func() {
		if runs++; runs%4096 == 0 {
			sink.Reset() // keep memory bounded; amortised into the runs
		}
		if _, err := f.Execute(ctx, benchState{ID: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	bare := benchFlow(nil)
	bareOp := func() {
		if _, err := bare.Execute(ctx, benchState{ID: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	handOp := func() {
		s := benchState{ID: "x"}
		if _, err := handWritten(ctx, "run", &s); err != nil {
			b.Fatal(err)
		}
	}
	m := fsm.NewFSM("pending", rawEvents, nil)
	fsmOp := func() {
		m.SetState("pending")
		for _, name := range rawNames {
			if err := m.Event(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	}
	const block = 16
	var flow, nosink, hand, raw blockCost
	for b.Loop() {
		flow.run(block, flowOp)
		nosink.run(block, bareOp)
		hand.run(block, handOp)
		raw.run(block, fsmOp)
	}
	ns, nosinkNs, handNs, rawNs := flow.perOp(), nosink.perOp(), hand.perOp(), raw.perOp()
	const counted = 4096 // a whole cycle of the sink's Reset
	allocs, bytes := allocsPerOp(counted, flowOp)
	handAllocs, _ := allocsPerOp(counted, handOp)
	rawAllocs, _ := allocsPerOp(counted, fsmOp)
	b.ReportMetric(ns, "ns/op")
	b.ReportMetric(allocs, "allocs/op")
	b.ReportMetric(bytes, "B/op")
	b.ReportMetric(ns/benchSteps, "ns/step")
	b.ReportMetric(allocs/benchSteps, "allocs/step")
	b.ReportMetric(ns/handNs, "x-handwritten")
	b.ReportMetric(ns/rawNs, "x-rawfsm")
	b.ReportMetric(nosinkNs/rawNs, "x-rawfsm-nosink")
	b.ReportMetric(nosinkNs/benchSteps, "nosink-ns/step")
	b.ReportMetric(handNs/benchSteps, "handwritten-ns/step")
	b.ReportMetric(handAllocs/benchSteps, "handwritten-allocs/step")
	b.ReportMetric(rawNs/benchSteps, "rawfsm-ns/step")
	b.ReportMetric(rawAllocs/benchSteps, "rawfsm-allocs/step")
}
