package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const rpc3Flows = `{"version": 1, "flows": [
 {"name": "R3", "state": "R3State", "triggers": [{"kind": "rpc", "endpoint": "R3.Start"}],
  "steps": [
   {"name": "A", "action": {"kind": "rpc", "service": "svc", "endpoint": "A", "request": "OrderID", "response": "RA"}, "irreversible": true},
   {"name": "B", "action": {"kind": "rpc", "service": "svc", "endpoint": "B", "request": "OrderID", "response": "RB"}, "irreversible": true},
   {"name": "C", "action": {"kind": "rpc", "service": "svc", "endpoint": "C", "request": "OrderID", "response": "RC"}, "irreversible": true}]}
]}`

// endNotifier is the durable store, telling whoever waits for a run that
// its last event is synced.
type endNotifier struct {
	*store.Store
	mu    sync.Mutex
	ended map[string]chan struct{}
}

func (s *endNotifier) done(runID string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.ended[runID]
	if ch == nil {
		ch = make(chan struct{})
		s.ended[runID] = ch
	}
	return ch
}

func (s *endNotifier) forget(runID string) {
	s.mu.Lock()
	delete(s.ended, runID)
	s.mu.Unlock()
}

func (s *endNotifier) Emit(ctx context.Context, ev runtime.Event) error {
	if err := s.Store.Emit(ctx, ev); err != nil {
		return err
	}
	if runtime.RunState(ev.To).Terminal() {
		close(s.done(ev.RunID))
	}
	return nil
}

// commitStats counts a store's group commits (store.Options.Committed).
type commitStats struct {
	mu               sync.Mutex
	records, commits int
	sync             time.Duration
}

func (c *commitStats) add(records int, sync time.Duration) {
	c.mu.Lock()
	c.records += records
	c.commits++
	c.sync += sync
	c.mu.Unlock()
}

func (c *commitStats) reset() {
	c.mu.Lock()
	c.records, c.commits, c.sync = 0, 0, 0
	c.mu.Unlock()
}

// report gives the records and syncs per run, and the mean sync time.
func (c *commitStats) report(b *testing.B, prefix string, runs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.commits == 0 {
		return
	}
	b.ReportMetric(float64(c.records)/float64(runs), prefix+"records/run")
	b.ReportMetric(float64(c.commits)/float64(runs), prefix+"syncs/run")
	b.ReportMetric(float64(c.sync.Microseconds())/float64(c.commits), prefix+"µs/sync")
}

const rpc3Workers = 50

// rpc3Only runs one side of BenchmarkRPC3, to profile it alone.
var rpc3Only = flag.String("rpc3-only", "", "BenchmarkRPC3 runs only this side: engine or bare (for a profile)")

// BenchmarkRPC3 measures runs of 3 rpc steps (JSON flow, httpcall) against
// a local HTTP service, on the durable store, started over HTTP by 50
// clients, each starting a run and waiting for its end (its last event
// synced) before the next: runs/s. The baseline, in the same run and
// interleaved in rounds, is plain Go doing what such a run must do at
// least: the same 3 HTTP calls (the same service, net/http, JSON bodies and
// the Idempotency-Key header) and the same appends to the same kind of
// store (the events of a real run of the flow, with new run IDs, appended
// with Store.Emit around the calls, each synced by the group commit), by
// 50 goroutines. x-bare is the baseline's rate over the engine's (issue 9:
// at most 2); x-bare-median-round the median of that ratio over the rounds.
func BenchmarkRPC3(b *testing.B) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer svc.Close()
	dir := b.TempDir()
	var engineCommits, bareCommits commitStats
	raw, err := store.Open(dir+"/engine", store.Options{Committed: engineCommits.add})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	st := &endNotifier{Store: raw, ended: map[string]chan struct{}{}}
	e, err := New(Options{Store: st, Inbox: raw, ID: "bench",
		Caller: httpcall.New(httpcall.Static{"svc": svc.URL})})
	if err != nil {
		b.Fatal(err)
	}
	if ds, err := e.LoadFlows("r3.json", []byte(rpc3Flows)); err != nil {
		b.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = e.Close(ctx)
	}()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: rpc3Workers, MaxConnsPerHost: rpc3Workers}}

	runEngine := func(id string) error {
		done := st.done(id)
		defer st.forget(id)
		res, err := client.Post(srv.URL+"/rpc/R3.Start?run_id="+id, "application/json", strings.NewReader(`{"OrderID":"`+id+`"}`))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("start %s: status %d", id, res.StatusCode)
		}
		select {
		case <-done:
			return nil
		case <-time.After(time.Minute):
			return fmt.Errorf("run %s did not end", id)
		}
	}
	// A real run's history, for the baseline's appends.
	if err := runEngine("sample"); err != nil {
		b.Fatal(err)
	}
	sample, err := raw.Load("sample")
	if err != nil || len(sample) != 4 {
		b.Fatalf("sample history: %d events, %v", len(sample), err)
	}

	bare, err := store.Open(dir+"/bare", store.Options{Committed: bareCommits.add})
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	plain := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: httpcall.DefaultLimits.MaxIdleConnsPerHost, MaxConnsPerHost: httpcall.DefaultLimits.MaxConnsPerHost}}
	call := func(endpoint, id string) error {
		body, _ := json.Marshal(id)
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/"+endpoint, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", id+"/"+endpoint)
		res, err := plain.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var out json.RawMessage
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %d: %v", endpoint, res.StatusCode, err)
		}
		return nil
	}
	runBare := func(id string) error {
		for i, ev := range sample {
			ev.RunID, ev.Time = id, time.Now()
			if err := bare.Emit(context.Background(), ev); err != nil {
				return err
			}
			if i < 3 {
				if err := call([]string{"A", "B", "C"}[i], id); err != nil {
					return err
				}
			}
		}
		return nil
	}

	engineCommits.reset()
	const round = 500
	var engineTime, bareTime time.Duration
	var ratios []float64 // per round: a burst of load on the machine moves one round, not the median
	b.ResetTimer()
	for done, r := 0, 0; done < b.N; r++ {
		n := min(round, b.N-done)
		var ee, be time.Duration
		if *rpc3Only != "bare" {
			el, err := parallel(n, rpc3Workers, func(i int) error { return runEngine(fmt.Sprintf("r%d-%d", r, i)) })
			if err != nil {
				b.Fatal(err)
			}
			engineTime, ee = engineTime+el, el
		}
		if *rpc3Only != "engine" {
			el, err := parallel(n, rpc3Workers, func(i int) error { return runBare(fmt.Sprintf("r%d-%d", r, i)) })
			if err != nil {
				b.Fatal(err)
			}
			bareTime, be = bareTime+el, el
		}
		if ee > 0 && be > 0 {
			ratios = append(ratios, float64(ee)/float64(be))
		}
		done += n
	}
	b.StopTimer()
	engineRate := float64(b.N) / engineTime.Seconds()
	bareRate := float64(b.N) / bareTime.Seconds()
	b.ReportMetric(engineRate, "runs/s")
	b.ReportMetric(bareRate, "bare-runs/s")
	b.ReportMetric(bareRate/engineRate, "x-bare")
	if len(ratios) > 0 {
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "x-bare-median-round")
	}
	engineCommits.report(b, "", b.N)
	bareCommits.report(b, "bare-", b.N)
	b.ReportMetric(0, "ns/op")
}
