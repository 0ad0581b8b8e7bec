package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden histories in testdata/golden")

func goldenPath(name, ext string) string { return filepath.Join("testdata", "golden", name+ext) }

func readHistory(t *testing.T, path string) []runtime.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var out []runtime.Event
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var e runtime.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	return out
}

func encodeHistory(h []runtime.Event) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, e := range h {
		enc.Encode(e)
	}
	return b.Bytes()
}

func statusJSON(st runtime.Status) []byte {
	st.History = nil
	b, _ := json.MarshalIndent(st, "", "  ")
	return append(b, '\n')
}

// TestGoldenHistories runs each scenario with the durable store, reads the
// history back after a reopen, and compares it with the committed golden
// history; the golden replays (runtime.Replay) to the committed status, and
// fits the flow definition (CheckHistory).
func TestGoldenHistories(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			f := newOrderFlow(st, newLedger(), nil, "")
			res, _ := f.Execute(context.Background(), order{Scenario: sc.name}, runtime.WithRunID("order-"+sc.name))
			if res.Final != sc.final {
				t.Fatalf("run ended %s (%v), want %s", res.Final, res.Err, sc.final)
			}
			st.Close()
			st = openStore(t, dir)
			defer st.Close()
			got, err := st.Load("order-" + sc.name)
			if err != nil {
				t.Fatal(err)
			}
			replayed, err := runtime.Replay(got)
			if err != nil {
				t.Fatalf("replay of the stored history: %v", err)
			}
			if *update {
				os.MkdirAll(filepath.Join("testdata", "golden"), 0o755)
				os.WriteFile(goldenPath(sc.name, ".jsonl"), encodeHistory(got), 0o644)
				os.WriteFile(goldenPath(sc.name, ".status.json"), statusJSON(replayed), 0o644)
			}
			want := readHistory(t, goldenPath(sc.name, ".jsonl"))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored history differs from the golden (-want +got):\n%s", diff)
			}
			// The golden itself replays to the committed status...
			gst, err := runtime.Replay(want)
			if err != nil {
				t.Fatalf("replay of the golden: %v", err)
			}
			wantStatus, err := os.ReadFile(goldenPath(sc.name, ".status.json"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(wantStatus), string(statusJSON(gst))); diff != "" {
				t.Errorf("replayed status differs (-want +got):\n%s", diff)
			}
			if gst.State != sc.final {
				t.Errorf("golden replays to %s, want %s", gst.State, sc.final)
			}
			// ...fits the definition...
			if err := f.CheckHistory(want); err != nil {
				t.Errorf("golden does not fit the flow: %v", err)
			}
			// ...and every prefix replays to the run state the store's
			// index derives from the last event.
			for k := 1; k <= len(want); k++ {
				pst, err := runtime.Replay(want[:k])
				if err != nil {
					t.Fatalf("prefix %d: %v", k, err)
				}
				idx, _ := runStateOf(want[k-1].To)
				if pst.State != idx {
					t.Errorf("prefix %d: Replay says %s, the store's index %s", k, pst.State, idx)
				}
			}
		})
	}
}

// TestHistoryThatNoLongerFits: a golden history checked against a flow
// whose step was renamed or removed fails naming the step and the event.
func TestHistoryThatNoLongerFits(t *testing.T) {
	h := readHistory(t, goldenPath("ok", ".jsonl"))
	firstEventOf := func(step string) uint64 {
		for _, e := range h {
			if e.Step == step || strings.HasPrefix(e.To, step+":") || strings.HasPrefix(e.From, step+":") {
				return e.Seq
			}
		}
		t.Fatalf("golden never mentions %s", step)
		return 0
	}
	for _, c := range []struct {
		name   string
		rename map[string]string
		drop   string
		step   string
	}{
		{"renamed", map[string]string{"Charge": "Payment"}, "", "Charge"},
		{"removed", nil, "Ship", "Ship"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newOrderFlow(NewMemory(), newLedger(), c.rename, c.drop)
			err := f.CheckHistory(h)
			if c.step == "" {
				if err != nil {
					t.Fatalf("history fits, got %v", err)
				}
				return
			}
			var he *runtime.HistoryError
			if !errors.As(err, &he) || !errors.Is(err, runtime.ErrHistory) {
				t.Fatalf("CheckHistory: %v, want a *runtime.HistoryError", err)
			}
			if he.Step != c.step || he.Seq != firstEventOf(c.step) {
				t.Errorf("error names step %q seq %d, want step %q seq %d: %v", he.Step, he.Seq, c.step, firstEventOf(c.step), err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", c.step)) || !strings.Contains(err.Error(), fmt.Sprintf("seq %d", he.Seq)) {
				t.Errorf("message does not name the step and the event: %v", err)
			}
			// ResumeAll reports the run and the step, and resumes the others.
			mem := NewMemory()
			cut := h[:len(h)-1]
			emitAll(t, mem, cut)
			other := history("other", "Order", "Reserve:running")
			other[0].State = json.RawMessage(`{"scenario":"ok","reserved":false,"charged":0,"shipped":false}`)
			emitAll(t, mem, other)
			f = newOrderFlow(mem, newLedger(), c.rename, c.drop)
			runs, err := ResumeAll(context.Background(), f, mem)
			if err == nil || !strings.Contains(err.Error(), `"order-ok"`) || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.step)) {
				t.Fatalf("ResumeAll error %v, want one naming run order-ok and step %q", err, c.step)
			}
			if len(runs) != 1 || runs[0].ID() != "other" {
				t.Fatalf("ResumeAll resumed %d runs, want the other one", len(runs))
			}
			if res, _ := runs[0].Wait(context.Background()); res.Final != runtime.StateDone {
				t.Fatalf("other run ended %s: %v", res.Final, res.Err)
			}
		})
	}
}

// TestResumeFromEveryPoint cuts each golden history after every event that
// leaves the run unfinished, stores the prefix, and resumes it with
// ResumeAll: the run must end as the scenario does, steps that completed in
// the prefix must not run again, only the step in flight may, and the whole
// history must replay and fit the flow.
func TestResumeFromEveryPoint(t *testing.T) {
	for _, name := range []string{"durable", "memory"} {
		t.Run(name, func(t *testing.T) {
			type cut struct {
				sc    string
				final runtime.RunState
				pre   []runtime.Event
			}
			var cuts []cut
			for _, sc := range scenarios {
				h := readHistory(t, goldenPath(sc.name, ".jsonl"))
				for k := 1; k < len(h); k++ {
					pre := make([]runtime.Event, k)
					copy(pre, h[:k])
					id := fmt.Sprintf("%s@%d", sc.name, k)
					for i := range pre {
						pre[i].RunID = id
					}
					cuts = append(cuts, cut{sc.name, sc.final, pre})
				}
			}
			dir := t.TempDir()
			var src interface {
				Source
				runtime.Sink
			}
			var st *Store
			if name == "durable" {
				st = openStore(t, dir)
				src = st
			} else {
				src = NewMemory()
			}
			for _, c := range cuts {
				emitAll(t, src, c.pre)
			}
			if st != nil { // a restart
				st.Close()
				st = openStore(t, dir)
				defer st.Close()
				src = st
			}
			led := newLedger()
			f := newOrderFlow(src, led, nil, "")
			runs, err := ResumeAll(context.Background(), f, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != len(cuts) {
				t.Fatalf("resumed %d runs, want %d", len(runs), len(cuts))
			}
			for _, r := range runs {
				r.Wait(context.Background()) // a compensated run's Wait returns its cause
			}
			if left, _ := src.NonTerminal(""); len(left) != 0 {
				t.Fatalf("%d runs still unfinished after resume", len(left))
			}
			for _, c := range cuts {
				id := c.pre[0].RunID
				h, err := src.Load(id)
				if err != nil {
					t.Fatal(err)
				}
				final, err := runtime.Replay(h)
				if err != nil {
					t.Fatalf("%s: resumed history does not replay: %v", id, err)
				}
				if final.State != c.final {
					t.Errorf("%s: ended %s, want %s", id, final.State, c.final)
				}
				if err := f.CheckHistory(h); err != nil {
					t.Errorf("%s: resumed history does not fit: %v", id, err)
				}
				if diff := cmp.Diff(c.pre, h[:len(c.pre)]); diff != "" {
					t.Errorf("%s: stored prefix changed (-want +got):\n%s", id, diff)
				}
				// Effects after the resume, by idempotency key.
				last := c.pre[len(c.pre)-1]
				inFlight := ""
				if step, phase, _ := runtime.ParseMachineState(last.To); step != "" {
					inFlight = id + "/" + step
					if phase == runtime.PhaseRollback {
						inFlight += "/rollback"
					}
				}
				if inFlight != "" && led.count(inFlight) == 0 {
					t.Errorf("%s: %s was in flight and did not run again", id, inFlight)
				}
				for _, e := range c.pre {
					step, phase, _ := runtime.ParseMachineState(e.From)
					if step == "" || e.Outcome == runtime.OutcomeRetry {
						continue
					}
					key := id + "/" + step
					if phase == runtime.PhaseRollback {
						key += "/rollback"
					}
					if key != inFlight && led.count(key) != 0 {
						t.Errorf("%s: %s completed before the crash and ran again %d times", id, key, led.count(key))
					}
				}
			}
		})
	}
}
