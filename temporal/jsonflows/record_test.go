package jsonflows

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

var record = flag.String("record", "", "`dir`ectory TestRecordAbortHistories records its runs' histories into (testdata/histories/NAME)")

// TestRecordAbortHistories records, with -record DIR, the histories of
// testdata/histories/abort-update (replay_test.go says what they are):
// runs of testdata/shop.json on a Temporal server of its own, as
// flowgen-temporal serve runs them (the engine's API on this package's
// Executor, task queue "record", serve's answer bound), aborted through
// the API, which sends the run the abort update (flowtemporal.UpdateAbort).
// Without -record it is skipped.
func TestRecordAbortHistories(t *testing.T) {
	if *record == "" {
		t.Skip("records histories only with -record DIR")
	}
	// The service of the rpc steps: Step.Unreserve waits while hold is
	// open, after saying so on held.
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	var holding atomic.Bool
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/Step.Unreserve" && holding.Load() {
			held <- struct{}{}
			<-hold
		}
		_, _ = io.WriteString(w, `"`+strings.TrimPrefix(r.URL.Path, "/Step.")+`"`)
	}))
	defer svc.Close()
	const queue = "record"
	c := testserver.New(t).GetDefaultClient()
	// serve's answer bound with its default -write-timeout (listen.Server.AnswerWithin).
	x := New(c, Options{TaskQueue: queue, Answer: listen.DefaultWriteTimeout - time.Second})
	e, url := serveEngine(t, engine.Options{Executor: x, FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly,
		Caller: httpcall.New(httpcall.Static{"svc": svc.URL})})
	o := &onTemporal{c: c, x: x, e: e, url: url, queue: queue}
	shop, err := os.ReadFile("testdata/shop.json")
	if err != nil {
		t.Fatal(err)
	}
	o.must(t, "PUT", "/flows", string(shop), 200)
	defer o.worker(t).Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waiting := func(run string) {
		t.Helper()
		for ctx.Err() == nil {
			if st, err := queryStatus(ctx, c, run); err == nil && st.State == runtime.StateWaiting {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("run %s does not wait", run)
	}
	ended := func(run string, want runtime.RunState) {
		t.Helper()
		_ = c.GetWorkflow(ctx, run, "").Get(ctx, nil)
		if st, err := queryStatus(ctx, c, run); err != nil || st.State != want {
			t.Fatalf("run %s ended %s (%v), want %s", run, st.State, err, want)
		}
	}

	// abort: taken in the parent's wait for its child.
	o.must(t, "POST", "/flows/Shop/runs?run_id=abort", `{"In": "a", "Invoice": {"Order": "o1"}}`, 201)
	waiting("abort@Bill")
	o.must(t, "POST", "/runs/abort/abort", "", 202)
	ended("abort", runtime.StateAborted)
	ended("abort@Bill", runtime.StateAborted)

	// refused: its child's abort taken in the child's await; the parent,
	// in its rollback, refuses its own.
	o.must(t, "POST", "/flows/Shop/runs?run_id=refused", `{"In": "b", "Invoice": {"Order": "o2"}}`, 201)
	waiting("refused@Bill")
	holding.Store(true)
	o.must(t, "POST", "/runs/refused@Bill/abort", "", 202)
	ended("refused@Bill", runtime.StateAborted)
	<-held
	// Sent to the run itself: the API would refuse it from the run's
	// memo, which says it is rolling back, without asking the run.
	if err := flowtemporal.AbortRun(ctx, c, "refused", nil); !errors.Is(err, runtime.ErrRollingBack) {
		t.Errorf("abort of the run rolling back: %v, want runtime.ErrRollingBack", err)
	}
	o.must(t, "POST", "/runs/refused/abort", "", 409)
	close(hold)
	ended("refused", runtime.StateCompensated)

	if err := os.MkdirAll(*record, 0o755); err != nil {
		t.Fatal(err)
	}
	// The runs that took an abort Update hold it; the one that refused
	// it holds nothing of it (its validator refused it).
	took := map[string]bool{"abort": true, "refused@Bill": true}
	for _, id := range []string{"abort", "abort@Bill", "refused", "refused@Bill"} {
		var h historypb.History
		for it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT); it.HasNext(); {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, ev)
		}
		updated := slices.ContainsFunc(h.Events, func(e *historypb.HistoryEvent) bool {
			return e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
		})
		if updated != took[id] {
			t.Errorf("%s: an accepted abort Update in its history: %v, want %v", id, updated, took[id])
		}
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*record, id+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
