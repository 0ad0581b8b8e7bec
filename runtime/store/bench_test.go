package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

// Benchmarks of the durable store, each against a baseline measured in the
// same run (docs/store.md has numbers and the command):
//
//	go test -run '^$' -bench . -benchtime 3s ./runtime/store/

// fiveStepEvents is the history of a run of a 5-step flow: 6 transitions.
func fiveStepEvents(run string) []runtime.Event {
	tos := []string{"S1:running", "S2:running", "S3:running", "S4:running", "S5:running", "done"}
	state := json.RawMessage(`{"customer":"c-123456","plan":"pro","step":3}`)
	h := history(run, "Bench", tos...)
	for i := range h {
		h[i].State = state
	}
	return h
}

// rawSyncer is the floor of one durable event: write a record of the same
// size to a file and sync it, nothing else.
type rawSyncer struct{ f *os.File }

func (r rawSyncer) append(p []byte) error {
	if _, err := r.f.Write(p); err != nil {
		return err
	}
	return syncData(r.f)
}

// BenchmarkSyncPerEvent: one goroutine emits events one by one, so every
// event pays one sync; interleaved with a raw write+sync loop of the same
// record size. x-raw is the store's cost over the raw loop's (target <= 1.1).
func BenchmarkSyncPerEvent(b *testing.B) {
	st, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	raw, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	rs := rawSyncer{raw}
	ctx := context.Background()
	var evs []runtime.Event
	rec := mustEncodeEvent(b, &fiveStepEvents("r-0")[0])
	rec = append(make([]byte, 12), rec...) // the log's record header
	var tStore, tRaw time.Duration
	n := 0
	for b.Loop() {
		if len(evs) == 0 {
			evs = fiveStepEvents(fmt.Sprintf("r-%d", n))
		}
		// Alternate which goes first, so neither always follows the other's
		// journal commit.
		for k := range 2 {
			t := time.Now()
			if (n+k)%2 == 0 {
				if err := rs.append(rec); err != nil {
					b.Fatal(err)
				}
				tRaw += time.Since(t)
			} else {
				if err := st.Emit(ctx, evs[0]); err != nil {
					b.Fatal(err)
				}
				tStore += time.Since(t)
			}
		}
		evs = evs[1:]
		n++
	}
	b.ReportMetric(float64(tStore.Nanoseconds())/float64(n), "ns/emit")
	b.ReportMetric(float64(tRaw.Nanoseconds())/float64(n), "ns/raw-sync")
	b.ReportMetric(float64(tStore)/float64(tRaw), "x-raw")
}

// bareLog is the baseline of group commit: one mutex, and whoever finds no
// sync in flight writes everything pending and syncs it.
type bareLog struct {
	f       *os.File
	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte
	gen     uint64 // batches synced
	syncing bool
}

func newBareLog(path string) (*bareLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l := &bareLog{f: f}
	l.cond = sync.NewCond(&l.mu)
	return l, nil
}

func (l *bareLog) append(p []byte) error {
	l.mu.Lock()
	l.pending = append(l.pending, p...)
	// The batch this record is in is durable once gen passes target.
	target := l.gen + 1
	if l.syncing {
		target++ // the batch in flight does not hold it
	}
	for l.gen < target {
		if !l.syncing {
			l.syncing = true
			buf := l.pending
			l.pending = nil
			l.mu.Unlock()
			_, err := l.f.Write(buf)
			if err == nil {
				err = syncData(l.f)
			}
			l.mu.Lock()
			l.syncing = false
			l.gen++
			l.cond.Broadcast()
			if err != nil {
				l.mu.Unlock()
				return err
			}
			continue
		}
		l.cond.Wait()
	}
	l.mu.Unlock()
	return nil
}

// BenchmarkConcurrentFlows: 100 runs in flight of a 5-step flow of no-op
// steps on the durable store (each run's 6 transitions durable before it
// moves on), against 100 goroutines appending the same records to a bare
// group-commit log. Reports durable transitions per second for both
// (target >= 20,000/s) and the ratio x-bare (target >= 0.45).
func BenchmarkConcurrentFlows(b *testing.B) {
	const inFlight = 100
	f, bare, rec := fiveStepBench(b)

	flows := b.N
	ctx := context.Background()
	parallel := func(work func() error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(flows) {
					if err := work(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	var transitions atomic.Int64
	b.ResetTimer()
	dStore := parallel(func() error {
		res, err := f.Execute(ctx, benchState{Customer: "c-123456", Plan: "pro"})
		if err != nil {
			return err
		}
		if res.Final != runtime.StateDone {
			return fmt.Errorf("run ended %s", res.Final)
		}
		transitions.Add(6)
		return nil
	})
	b.StopTimer()
	dBare := parallel(func() error {
		for range 6 {
			if err := bare.append(rec); err != nil {
				return err
			}
		}
		return nil
	})
	storeRate := float64(transitions.Load()) / dStore.Seconds()
	bareRate := float64(flows*6) / dBare.Seconds()
	b.ReportMetric(storeRate, "transitions/s")
	b.ReportMetric(bareRate, "bare-transitions/s")
	b.ReportMetric(storeRate/bareRate, "x-bare")
}

type benchState struct {
	Customer string `json:"customer"`
	Plan     string `json:"plan"`
}

// BenchmarkResume10k: a store holding 10,000 runs interrupted in their
// third step is opened, every run resumed (ResumeAll) and waited for until
// it finishes. Baseline: only scanning the same log (wal.Open).
func BenchmarkResume10k(b *testing.B) {
	const runs = 10000
	src := b.TempDir()
	st, err := Open(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < runs; i += 100 {
				for _, e := range fiveStepEvents(fmt.Sprintf("run-%05d", i))[:3] {
					e.State = json.RawMessage(`{"customer":"c-123456","plan":"pro"}`)
					if err := st.Emit(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	st.Close()
	var dResumed, dDone, dScan time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		dir := copyStore(b, src)
		var steps []*runtime.Step[benchState]
		for i := 1; i <= 5; i++ {
			steps = append(steps, &runtime.Step[benchState]{
				ID:           fmt.Sprintf("S%d", i),
				Exec:         func(context.Context, *benchState) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
				Irreversible: true,
			})
		}
		t := time.Now()
		l, err := wal.Open(dir, wal.Options{ReadOnly: true}, func(wal.Pos, []byte) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		l.Close()
		dScan += time.Since(t)
		b.StartTimer()

		t = time.Now()
		st, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		f := runtime.New[benchState]("Bench", runtime.WithSink(st))
		if err := f.Register(steps...); err != nil {
			b.Fatal(err)
		}
		rs, err := ResumeAll(context.Background(), f, st)
		if err != nil || len(rs) != runs {
			b.Fatalf("resumed %d runs: %v", len(rs), err)
		}
		dResumed += time.Since(t)
		for _, r := range rs {
			if res, _ := r.Wait(context.Background()); res.Final != runtime.StateDone {
				b.Fatalf("run ended %s: %v", res.Final, res.Err)
			}
		}
		dDone += time.Since(t)
		st.Close()
		n++
	}
	b.ReportMetric(dResumed.Seconds()/float64(n), "s/open+resume")
	b.ReportMetric(dDone.Seconds()/float64(n), "s/until-all-done")
	b.ReportMetric(dScan.Seconds()/float64(n), "s/scan-only")
	b.ReportMetric(float64(dResumed)/float64(dScan), "x-scan")
}

func copyStore(b *testing.B, src string) string {
	dst := filepath.Join(b.TempDir(), "store")
	os.MkdirAll(dst, 0o755)
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644)
	}
	return dst
}

// BenchmarkUnloaded5Step: one 5-step durable flow at a time (no other load),
// its latency from Execute to the end (6 transitions, each synced before
// the run moves on), against the same 6 records appended one after the
// other to a bare group-commit log. Reports both medians and their ratio
// (target: x-bare-p50 <= 1.5).
func BenchmarkUnloaded5Step(b *testing.B) {
	f, bare, rec := fiveStepBench(b)
	ctx := context.Background()
	var flowNs, bareNs []float64
	for b.Loop() {
		start := time.Now()
		res, err := f.Execute(ctx, benchState{Customer: "c-123456", Plan: "pro"})
		if err != nil || res.Final != runtime.StateDone {
			b.Fatalf("run ended %s: %v", res.Final, err)
		}
		flowNs = append(flowNs, float64(time.Since(start)))
		start = time.Now()
		for range 6 {
			if err := bare.append(rec); err != nil {
				b.Fatal(err)
			}
		}
		bareNs = append(bareNs, float64(time.Since(start)))
	}
	median := func(v []float64) float64 {
		slices.Sort(v)
		return v[len(v)/2]
	}
	fp, bp := median(flowNs), median(bareNs)
	b.ReportMetric(fp/1e3, "p50-µs")
	b.ReportMetric(bp/1e3, "bare-p50-µs")
	b.ReportMetric(fp/bp, "x-bare-p50")
}

// fiveStepBench returns a flow of 5 no-op steps on a new durable store, a
// bare group-commit log beside it, and a record of a 5-step flow's size to
// append to it; both are closed when b ends.
func fiveStepBench(b *testing.B) (*runtime.Flow[benchState], *bareLog, []byte) {
	st, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	f := runtime.New[benchState]("Bench", runtime.WithSink(st))
	var steps []*runtime.Step[benchState]
	for i := 1; i <= 5; i++ {
		steps = append(steps, &runtime.Step[benchState]{
			ID:           fmt.Sprintf("S%d", i),
			Exec:         func(context.Context, *benchState) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
			Irreversible: true,
		})
	}
	if err := f.Register(steps...); err != nil {
		b.Fatal(err)
	}
	bare, err := newBareLog(filepath.Join(b.TempDir(), "bare"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bare.f.Close() })
	return f, bare, append(make([]byte, 12), mustEncodeEvent(b, &fiveStepEvents("r-0")[2])...)
}
