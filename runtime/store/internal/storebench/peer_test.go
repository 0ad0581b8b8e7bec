package storebench

// flowgen against a peer durable engine, github.com/cschleiden/go-workflows
// v1.2.0 on its SQLite backend (file, WAL) in its in-process monoprocess
// wrapper: the same flow shape (5 no-op activities / steps), 100 instances
// in flight, in one run. Reports flows per second for both and the ratio.

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gwbackend "github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/monoprocess"
	gwsqlite "github.com/cschleiden/go-workflows/backend/sqlite"
	"github.com/cschleiden/go-workflows/client"
	"github.com/cschleiden/go-workflows/worker"
	"github.com/cschleiden/go-workflows/workflow"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const inFlight = 100

func noop(ctx context.Context) error { return nil }

func fiveActivities(ctx workflow.Context) error {
	for range 5 {
		if _, err := workflow.ExecuteActivity[any](ctx, workflow.DefaultActivityOptions, noop).Get(ctx); err != nil {
			return err
		}
	}
	return nil
}

type nullHandler struct{}

func (nullHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (nullHandler) Handle(context.Context, slog.Record) error { return nil }
func (h nullHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nullHandler) WithGroup(string) slog.Handler           { return h }

// runN runs work n times with inFlight goroutines and returns flows/s.
func runN(b *testing.B, n int, work func(i int) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if err := work(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

type state struct{ N int }

// BenchmarkPeer: b.N flows on each engine. x-peer is flowgen's flows/s over
// go-workflows' (target >= 50).
func BenchmarkPeer(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// go-workflows
	be := monoprocess.NewMonoprocessBackend(gwsqlite.NewSqliteBackend(filepath.Join(b.TempDir(), "gw.sqlite"),
		gwsqlite.WithBackendOptions(gwbackend.WithLogger(slog.New(nullHandler{})))))
	defer be.Close()
	w := worker.New(be, nil)
	w.RegisterWorkflow(fiveActivities)
	w.RegisterActivity(noop)
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	c := client.New(be)

	// flowgen
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	f := runtime.New[state]("Peer", runtime.WithSink(st))
	var steps []*runtime.Step[state]
	for i := 1; i <= 5; i++ {
		steps = append(steps, &runtime.Step[state]{
			ID:           fmt.Sprintf("S%d", i),
			Exec:         func(context.Context, *state) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
			Irreversible: true,
		})
	}
	if err := f.Register(steps...); err != nil {
		b.Fatal(err)
	}

	// The peer is slow: cap its share so one benchmark run stays short, and
	// give flowgen enough flows to measure too.
	nPeer := min(b.N, 400)
	nFlowgen := max(b.N, 20000)
	b.ResetTimer()
	peer := runN(b, nPeer, func(i int) error {
		inst, err := c.CreateWorkflowInstance(ctx, client.WorkflowInstanceOptions{InstanceID: fmt.Sprintf("wf-%d-%d", b.N, i)}, fiveActivities)
		if err != nil {
			return err
		}
		return c.WaitForWorkflowInstance(ctx, inst, time.Minute)
	})
	ours := runN(b, nFlowgen, func(int) error {
		res, err := f.Execute(ctx, state{})
		if err == nil && res.Final != runtime.StateDone {
			err = fmt.Errorf("run ended %s", res.Final)
		}
		return err
	})
	b.StopTimer()
	b.ReportMetric(peer, "go-workflows-flows/s")
	b.ReportMetric(ours, "flowgen-flows/s")
	b.ReportMetric(ours/peer, "x-peer")
	cancel()
	w.WaitForCompletion()
}
