package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
	"github.com/google/go-cmp/cmp"
)

// storeWithRuns writes two runs: one compensated, one still running.
func storeWithRuns(t *testing.T) string {
	t.Helper()
	dir, st := newStore(t)
	defer st.Close()
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	ev := func(run, flow string, seq int, step, from, to string, attempt int, outcome, errText string) runtime.Event {
		return runtime.Event{RunID: run, Seq: uint64(seq), Time: t0.Add(time.Duration(seq) * 250 * time.Millisecond),
			Flow: flow, Step: step, From: from, To: to, Attempt: attempt, Outcome: outcome, Error: errText,
			State: json.RawMessage(`{"n":1}`)}
	}
	for _, e := range []runtime.Event{
		ev("o-1", "Order", 1, "Reserve", "pending", "Reserve:running", 0, "", ""),
		ev("s-1", "Signup", 1, "Create", "pending", "Create:running", 0, "", ""),
		ev("o-1", "Order", 2, "Reserve", "Reserve:running", "Ship:running", 1, "ok", ""),
		ev("o-1", "Order", 3, "Ship", "Ship:running", "Ship:running", 1, "retry", "timeout"),
		ev("o-1", "Order", 4, "Ship", "Ship:running", "failing", 2, "error", "panic: boom\n\ngoroutine 1\nmain.go:3"),
		ev("o-1", "Order", 5, "Reserve", "failing", "Reserve:rollback", 0, "", ""),
		ev("o-1", "Order", 6, "Reserve", "Reserve:rollback", "failing", 1, "ok", ""),
		ev("o-1", "Order", 7, "", "failing", "compensated", 0, "", ""),
	} {
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func TestRunsVerb(t *testing.T) {
	dir := storeWithRuns(t)
	// The store stays open for writing: the CLI reads it anyway.
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	code, out, errOut := runMain("runs", "-store", dir)
	// A compensated run names the step that failed, as its status does.
	want := `RUN  FLOW    STATE        STEP    EVENTS  UPDATED                   PARENT
o-1  Order   compensated  Ship    7       2026-05-04T10:00:01.750Z  -
s-1  Signup  running      Create  1       2026-05-04T10:00:00.250Z  -
`
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		args []string
		ids  []string
	}{
		{[]string{"-flow", "Signup"}, []string{"s-1"}},
		{[]string{"-status", "compensated"}, []string{"o-1"}},
		{[]string{"-status", "active"}, []string{"s-1"}},
		{[]string{"-flow", "Order", "-status", "running"}, nil},
	} {
		code, out, errOut := runMain(append([]string{"runs", "-json", "-store", dir}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errOut)
		}
		var ids []string
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var r store.RunInfo
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.RunID)
		}
		if diff := cmp.Diff(c.ids, ids); diff != "" {
			t.Errorf("runs %v (-want +got):\n%s", c.args, diff)
		}
	}
}

func TestHistoryVerb(t *testing.T) {
	dir := storeWithRuns(t)
	code, out, errOut := runMain("history", "-store", dir, "o-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `TIME                      SEQ  STEP     TRANSITION                       ATTEMPT  OUTCOME  ERROR
2026-05-04T10:00:00.250Z  1    Reserve  pending -> Reserve:running       -        -
2026-05-04T10:00:00.500Z  2    Reserve  Reserve:running -> Ship:running  1        ok
2026-05-04T10:00:00.750Z  3    Ship     Ship:running -> Ship:running     1        retry    timeout
2026-05-04T10:00:01.000Z  4    Ship     Ship:running -> failing          2        error    panic: boom (+3 lines, see -json)
2026-05-04T10:00:01.250Z  5    Reserve  failing -> Reserve:rollback      -        -
2026-05-04T10:00:01.500Z  6    Reserve  Reserve:rollback -> failing      1        ok
2026-05-04T10:00:01.750Z  7    -        failing -> compensated           -        -

run o-1 (flow Order) is compensated after 7 events, 1.5s
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("history (-want +got):\n%s\ngot:\n%s", diff, out)
	}

	code, out, _ = runMain("history", "-json", "-store", dir, "o-1")
	if code != 0 {
		t.Fatal(code)
	}
	var evs []runtime.Event
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var e runtime.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if len(evs) != 7 || evs[3].Error != "panic: boom\n\ngoroutine 1\nmain.go:3" || string(evs[0].State) != `{"n":1}` {
		t.Fatalf("history -json: %+v", evs)
	}
}

func TestStoreVerbErrors(t *testing.T) {
	dir := storeWithRuns(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"runs"}, 2, "-store is required"},
		{[]string{"runs", "-store", dir, "-status", "finished"}, 2, `unknown -status "finished"; want one of pending, running, waiting, rolling_back, done, failed, compensated, aborted, compensation_failed, or active` + "\n"},
		// A likely typo gets the value meant.
		{[]string{"runs", "-store", dir, "-status", "wating"}, 2, `unknown -status "wating"; want one of pending, running, waiting, rolling_back, done, failed, compensated, aborted, compensation_failed, or active; did you mean "waiting"?` + "\n"},
		{[]string{"runs", "-store", dir, "-status", "activ"}, 2, `; did you mean "active"?`},
		{[]string{"runs", "-store", dir, "extra"}, 2, "unexpected arguments"},
		{[]string{"history", "-store", dir}, 2, "exactly one run ID"},
		{[]string{"history", "o-1"}, 2, "-store is required"},
		{[]string{"history", "-store", dir, ""}, 2, "empty run ID"},
		{[]string{"history", "-store", dir + "/missing", ""}, 2, "empty run ID"},
		{[]string{"history", "-store", dir, "nope"}, 1, `no run "nope"`},
		{[]string{"runs", "-store", dir + "/missing"}, 1, "holds no store"},
	} {
		code, _, errOut := runMain(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

// newStore opens a new store in a temporary directory.
func newStore(t *testing.T) (string, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, st
}

// An abort accepted that a run has yet to take shows in runs (its state,
// and abort_requested in -json) and history, as GET /runs/{id} says it;
// not for a run rolling back, which an abort no longer changes.
func TestRunsShowAbortPending(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i, e := range []runtime.Event{
		{RunID: "a-1", Seq: 1, Flow: "Order", Step: "Reserve", From: "pending", To: "Reserve:running"},
		{RunID: "r-1", Seq: 1, Flow: "Order", Step: "Reserve", From: "pending", To: "Reserve:running"},
		{RunID: "r-1", Seq: 2, Flow: "Order", Step: "Reserve", From: "Reserve:running", To: "Ship:running", Attempt: 1, Outcome: "ok"},
		{RunID: "r-1", Seq: 3, Flow: "Order", Step: "Ship", From: "Ship:running", To: "failing", Attempt: 1, Outcome: "error", Error: "gone"},
		{RunID: "r-1", Seq: 4, Flow: "Order", Step: "Reserve", From: "failing", To: "Reserve:rollback"},
	} {
		e.Time = t0.Add(time.Duration(i) * time.Second)
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a-1", "r-1"} {
		if err := st.RequestAbort(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	code, out, errOut := runMain("runs", "-store", dir)
	want := `RUN  FLOW   STATE                    STEP     EVENTS  UPDATED                   PARENT
a-1  Order  running (abort pending)  Reserve  1       2026-05-04T10:00:00.000Z  -
r-1  Order  rolling_back             Reserve  4       2026-05-04T10:00:04.000Z  -
`
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}

	code, out, errOut = runMain("runs", "-json", "-store", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r struct {
			RunID          string `json:"run_id"`
			AbortRequested bool   `json:"abort_requested"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got[r.RunID] = r.AbortRequested
	}
	if !got["a-1"] || got["r-1"] || len(got) != 2 {
		t.Errorf("runs -json: abort_requested by run %v, want a-1 only", got)
	}

	for id, want := range map[string]bool{"a-1": true, "r-1": false} {
		code, out, errOut := runMain("history", "-store", dir, id)
		if code != 0 {
			t.Fatalf("history %s: exit %d: %s", id, code, errOut)
		}
		if got := strings.Contains(out, "\nabort pending: accepted, not yet taken by the run"); got != want {
			t.Errorf("history %s says the abort is pending: %v, want %v\n%s", id, got, want, out)
		}
	}
}

// history names the abort that cut a step short "interrupted", by the
// runtime's rule (runtime.Event.Interrupted), as the web view's diagram
// and timeline do; the error column keeps what the run recorded.
func TestHistoryInterrupted(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i, m := range [][5]string{
		{"Reserve", "pending", "Reserve:running", "", ""},
		{"Reserve", "Reserve:running", "Ship:running", "ok", ""},
		{"Ship", "Ship:running", "aborting", "error", "runtime: run aborted"},
		{"", "aborting", "aborted", "", ""},
	} {
		e := runtime.Event{RunID: "a-1", Seq: uint64(i + 1), Time: t0, Flow: "Order", Step: m[0], From: m[1], To: m[2],
			Outcome: runtime.Outcome(m[3]), Error: m[4], State: json.RawMessage(`{}`)}
		if m[3] != "" {
			e.Attempt = 1
		}
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errOut := runMain("history", "-store", dir, "a-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Ship:running -> aborting") && !strings.Contains(line, "interrupted  runtime: run aborted") {
			t.Errorf("the abort's line: %q, want interrupted and its error", line)
		}
		if strings.Contains(line, "Reserve:running -> Ship:running") && strings.Contains(line, "interrupted") {
			t.Errorf("a step that completed is marked interrupted: %q", line)
		}
	}
	if !strings.Contains(out, "Ship:running -> aborting") {
		t.Fatalf("no abort in:\n%s", out)
	}
}

// A waiting run's history says what it waits for and until when, as the
// last event recorded it: a sleep's wake-up time, an await's event, a
// call's child run, and the deadline.
func TestHistoryWaiting(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		run, step string
		wait      runtime.Wait
	}{
		{"sleep", "Pickup", runtime.Wait{Until: t0.Add(2 * time.Hour), Deadline: t0.Add(3 * time.Hour)}},
		{"await", "Pay", runtime.Wait{Topic: "payments", Event: "paid", Correlated: true, Correlation: "o-1", Deadline: t0.Add(72 * time.Hour)}},
		{"call", "Insure", runtime.Wait{Child: &runtime.RunRef{Flow: "Insurance", RunID: "call@Insure"}}},
		{"provider", "Charge", runtime.Wait{Topic: "flowgen/provider", Event: "Charge", Deadline: t0.Add(time.Hour)}},
	} {
		w := c.wait
		for i, e := range []runtime.Event{
			{From: "pending", To: "Start:running"},
			{From: "Start:running", To: c.step + ":waiting", Step: "Start", Attempt: 1, Outcome: "ok", Wait: &w},
		} {
			e.RunID, e.Seq, e.Time, e.Flow, e.State = c.run, uint64(i+1), t0, "Order", json.RawMessage(`{}`)
			if e.Step == "" {
				e.Step = "Start"
			}
			if err := st.Emit(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()
	for run, want := range map[string]string{
		"sleep": "step Pickup sleeps until 2026-05-04T12:00:00.000Z; times out at 2026-05-04T13:00:00.000Z\n",
		"await": "step Pay waits for event \"paid\" on topic \"payments\" with correlation_id \"o-1\"; times out at 2026-05-07T10:00:00.000Z\n",
		"call":  "step Insure waits for its child run call@Insure (flow Insurance) to end\n",
		// A Go step served by remote providers waits for one, not for
		// an event "Charge" on a topic "flowgen/provider".
		"provider": "step Charge waits for a provider of handler \"Charge\"; times out at 2026-05-04T11:00:00.000Z\n",
	} {
		code, out, errOut := runMain("history", "-store", dir, run)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", run, code, errOut)
		}
		if !strings.Contains(out, "is waiting after 2 events, 0s\n"+want) {
			t.Errorf("history of %s, want %q after its state:\n%s", run, want, out)
		}
	}
}

// A run in a retry's backoff says, after its state, when its next
// attempt starts, as its retry recorded it (runtime.Status.RetryAt); a
// rollback's retry says it is the rollback's. The history said only that
// the run was running.
func TestHistoryRetryAt(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for run, events := range map[string][]runtime.Event{
		"step": {
			{From: "pending", To: "Charge:running"},
			{From: "Charge:running", To: "Charge:running", Attempt: 1, Outcome: "retry", Error: "busy", RetryAt: t0.Add(90 * time.Second)},
		},
		"rollback": {
			{From: "pending", To: "Charge:running"},
			{From: "Charge:running", To: "Ship:running", Attempt: 1, Outcome: "ok"},
			{From: "Ship:running", To: "failing", Step: "Ship", Attempt: 1, Outcome: "error", Error: "no parcel"},
			{From: "failing", To: "Charge:rollback"},
			{From: "Charge:rollback", To: "Charge:rollback", Attempt: 1, Outcome: "retry", Error: "bank down", RetryAt: t0.Add(time.Hour)},
		},
	} {
		for i, e := range events {
			e.RunID, e.Seq, e.Time, e.Flow, e.State = run, uint64(i+1), t0, "Settle", json.RawMessage(`{}`)
			if e.Step == "" {
				e.Step = "Charge"
			}
			if err := st.Emit(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()
	for run, want := range map[string]string{
		"step":     "is running after 2 events, 0s\nstep Charge tries again: attempt 2 at 2026-05-04T10:01:30.000Z\n",
		"rollback": "is rolling_back after 5 events, 0s\nthe rollback of step Charge tries again: attempt 2 at 2026-05-04T11:00:00.000Z\n",
	} {
		code, out, errOut := runMain("history", "-store", dir, run)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", run, code, errOut)
		}
		if !strings.Contains(out, want) {
			t.Errorf("history of %s, want %q:\n%s", run, want, out)
		}
	}
}

// failingWriter fails every write, as stdout on a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// Output that could not be written is a failure (exit 1, saying why), not
// an empty success: an operator's `flowgen runs -store DIR > runs.txt` on
// a full disk must not pass for a store with no runs.
func TestVerbOutputNotWritten(t *testing.T) {
	dir := storeWithRuns(t)
	for _, args := range [][]string{
		{"runs", "-store", dir},
		{"runs", "-store", dir, "-json"},
		{"history", "-store", dir, "o-1"},
		{"inbox", "-store", dir},
		{"version"},
	} {
		var errOut bytes.Buffer
		code := Main(args, strings.NewReader(""), failingWriter{}, &errOut)
		if code != exitError || strings.Count(errOut.String(), "no space left on device") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and the write's error once", args, code, errOut.String(), exitError)
		}
	}
}

// An attempt that went back to its gate (runtime.GateClosed: a Go step
// that found no live provider after a restart) failed nothing: history
// names its event "gate closed", by the runtime's rule
// (runtime.Event.BackAtGate), as the web view's timeline does, with its
// error, and the run waits.
func TestHistoryGateClosed(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	w := runtime.Wait{Topic: "flowgen/provider", Event: "Charge", Deadline: t0.Add(time.Hour)}
	for i, e := range []runtime.Event{
		{From: "pending", To: "Charge:waiting", Wait: &w},
		{From: "Charge:waiting", To: "Charge:running"},
		{From: "Charge:running", To: "Charge:waiting", Attempt: 1, Error: "engine: no live provider", Wait: &w},
	} {
		e.RunID, e.Seq, e.Time, e.Flow, e.Step, e.State = "g-1", uint64(i+1), t0, "Settle", "Charge", json.RawMessage(`{}`)
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errOut := runMain("history", "-store", dir, "g-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`Charge:running -> Charge:waiting +1 +gate closed +engine: no live provider\n`).MatchString(out) {
		t.Errorf("the event back to the gate, want gate closed and its error:\n%s", out)
	}
	if !strings.Contains(out, "is waiting after 3 events") {
		t.Errorf("the run, want waiting:\n%s", out)
	}
}

// An error is shown, not acted on: its control and format characters are
// escaped in the history's table. A remote provider's error message is
// the provider's text, and it reached the operator's terminal as it was:
// an ESC sequence retitled the window or rewrote the lines above, a tab
// broke the columns.
func TestHistoryErrorControlCharactersEscaped(t *testing.T) {
	dir, st := newStore(t)
	for i, e := range []runtime.Event{
		{From: "pending", To: "Reserve:running", Step: "Reserve"},
		{From: "Reserve:running", To: "failing", Step: "Reserve", Attempt: 1, Outcome: "error",
			Error: "provider \"billing\", handler \"Reserve\": \x1b]0;pwned\a\x1b[2J\rok\tdone \u202egnp.exe\nsecond line"},
	} {
		e.RunID, e.Flow, e.Seq, e.Time = "r-1", "Bill", uint64(i+1), time.Date(2026, 5, 4, 10, 0, i, 0, time.UTC)
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errOut := runMain("history", "-store", dir, "r-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsAny(out, "\x1b\a\r\t\u202e") {
		t.Fatalf("history shows control or format characters as they are:\n%q", out)
	}
	if want := `provider "billing", handler "Reserve": \x1b]0;pwned\a\x1b[2J\rok\tdone \u202egnp.exe (+1 lines, see -json)`; !strings.Contains(out, want) {
		t.Fatalf("history:\n%s\nwant the error shown as %s", out, want)
	}
}

// A run ID, a message's topic, event and ID and a claim's key are anyone's
// text too (a client's WithRunID, a broker's message): the tables show
// them escaped like an error. They reached the terminal as they were: a
// run ID with a newline split its row in two, one with an ESC sequence
// acted on the operator's terminal.
func TestStoreVerbsEscapeIDs(t *testing.T) {
	const id = "o-1\n\x1b]0;pwned\a\u202e\xff"
	const shownID = `o-1\n\x1b]0;pwned\a\u202e\xff`
	dir, st := newStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i, e := range []runtime.Event{
		{From: "pending", To: "Await:running", Step: "Await"},
		{From: "Await:running", To: "done", Step: "Await", Attempt: 1, Outcome: "ok"},
	} {
		e.RunID, e.Flow, e.Seq, e.Time = id, "Order", uint64(i+1), t0.Add(time.Duration(i)*time.Second)
		if err := st.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	m := store.Message{Topic: "pay\x1b[2J", Event: "paid\r", ID: id, Payload: json.RawMessage(`{}`), Received: t0}
	if _, _, err := st.PutMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.ClaimMessage(ctx, m.Key(), id+"/Await", t0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{
		{"runs", "-store", dir},
		{"history", "-store", dir, id},
		{"inbox", "-store", dir},
	} {
		code, out, errOut := runMain(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", args[0], code, errOut)
		}
		if strings.ContainsAny(out, "\x1b\a\r\t\u202e") || strings.Contains(out, "\xff") || strings.Contains(out, "o-1\n") {
			t.Errorf("%s shows control or format characters as they are:\n%q", args[0], out)
		}
		if !strings.Contains(out, shownID) {
			t.Errorf("%s:\n%s\nwant the run ID shown as %s", args[0], out, shownID)
		}
	}
}
