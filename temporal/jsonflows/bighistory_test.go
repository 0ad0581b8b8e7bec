package jsonflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A run whose history is larger than a Temporal query can answer (2 MB
// by default: here a state of 900 KB in each of a dozen events) is read
// all the same: its status, its history page by page through the API,
// and whole (Executor.History), each page a query within the bound.
func TestHistoryLargerThanAQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "big-history-test")
	c, x, url := o.c, o.x, o.url
	defer o.worker(t).Stop()
	if status, _, answer := request(t, "PUT", url+"/flows", `{"version": 1, "flows": [{"name": "Big", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Big.Start"}], "steps": [
  {"name": "A", "action": {"kind": "sleep", "duration": "1ms"}},
  {"name": "B", "action": {"kind": "sleep", "duration": "1ms"}},
  {"name": "C", "action": {"kind": "sleep", "duration": "1ms"}},
  {"name": "D", "action": {"kind": "sleep", "duration": "1ms"}}]}]}`); status != 200 {
		t.Fatalf("PUT /flows: %d %s", status, answer)
	}
	big := strings.Repeat("x", 900_000)
	if status, _, answer := request(t, "POST", url+"/flows/Big/runs?run_id=big-1", `{"Big": "`+big+`"}`); status != 201 {
		t.Fatalf("start: %d %s", status, answer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.GetWorkflow(ctx, "big-1", "").Get(ctx, nil); err != nil {
		t.Fatalf("run: %v", err)
	}

	h, err := x.History(ctx, "big-1")
	if err != nil {
		t.Fatalf("the whole history: %v", err)
	}
	var size int
	for i, ev := range h {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
		size += len(ev.State)
	}
	if size < 4_000_000 || h[len(h)-1].To != string(runtime.StateDone) {
		t.Fatalf("%d events, %d bytes of states, the last to %s; want more than a query answers, done", len(h), size, h[len(h)-1].To)
	}

	status, _, answer := request(t, "GET", url+"/runs/big-1", "")
	var st struct {
		State string          `json:"state"`
		Data  json.RawMessage `json:"data"`
	}
	if status != 200 || json.Unmarshal([]byte(answer), &st) != nil || st.State != string(runtime.StateDone) {
		t.Fatalf("GET /runs/big-1: %d %.300s", status, answer)
	}

	// The API's pages, followed to the end, are the history.
	var seqs []uint64
	pages := 0
	for after := uint64(0); ; pages++ {
		status, _, answer := request(t, "GET", fmt.Sprintf("%s/runs/big-1/history?after=%d", url, after), "")
		var p struct {
			Events    []runtime.Event `json:"events"`
			Truncated bool            `json:"truncated"`
			NextAfter *uint64         `json:"next_after"`
		}
		if status != 200 || json.Unmarshal([]byte(answer), &p) != nil || len(p.Events) == 0 {
			t.Fatalf("GET history after %d: %d %.300s", after, status, answer)
		}
		for _, ev := range p.Events {
			seqs = append(seqs, ev.Seq)
			if len(ev.State) < 900_000 {
				t.Fatalf("event %d: a state of %d bytes, want the run's", ev.Seq, len(ev.State))
			}
		}
		if !p.Truncated {
			break
		}
		after = *p.NextAfter
	}
	if len(seqs) != len(h) || seqs[len(seqs)-1] != h[len(h)-1].Seq || pages < 2 {
		t.Fatalf("the pages held seqs %v in %d pages; want the %d events in several", seqs, pages+1, len(h))
	}
}
