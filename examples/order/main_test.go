package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/examples/internal/demo/demotest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// branches renders the events of each branch of a history, in order.
// The branches of Prepare run at the same time, so their events
// interleave differently from run to run; each branch's own do not.
func branches(history []runtime.Event) map[string][]string {
	out := map[string][]string{}
	for _, e := range history {
		if e.Branch != "" {
			out[e.Branch] = append(out[e.Branch], demotest.Line(e))
		}
	}
	return out
}

// completions lists the branches of a history in the order they
// completed: the reverse of the order they are rolled back in.
func completions(history []runtime.Event) []string {
	var out []string
	for _, e := range history {
		if e.Branch != "" && e.Outcome == runtime.OutcomeOK {
			out = append(out, e.Branch)
		}
	}
	return out
}

// join concatenates lists of transitions.
func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// undo is where, in a want's transitions, the completed branches of
// Prepare are rolled back: newest completion first, so the lines depend on
// the completion order, which expand reads from the history.
const undo = "<undo>"

// expand replaces undo with the rollbacks of the branches in done (in
// completion order), leaving and re-entering phase ("failing" or
// "aborting").
func expand(want, done []string) []string {
	var out []string
	for _, l := range want {
		phase, ok := strings.CutPrefix(l, undo)
		if !ok {
			out = append(out, l)
			continue
		}
		for i := len(done) - 1; i >= 0; i-- {
			out = append(out,
				phase+" -> "+done[i]+":rollback",
				done[i]+":rollback -> "+phase+" [ok]")
		}
	}
	return out
}

var (
	// The branches of Prepare when both complete: the stock's first
	// attempt fails (a busy warehouse) and its retry succeeds.
	stockOK = []string{
		"Prepare:parallel -> ReserveStock:running",
		"ReserveStock:running -> ReserveStock:running [retry]",
		"ReserveStock:running -> Prepare:parallel [ok]",
	}
	cardOK = []string{
		"Prepare:parallel -> AuthorizeCard:running",
		"AuthorizeCard:running -> Prepare:parallel [ok]",
	}
	bothOK = map[string][]string{OrderStepReserveStock: stockOK, OrderStepAuthorizeCard: cardOK}

	prepared = []string{
		"pending -> Prepare:parallel",
		"Prepare:parallel -> Route:running [ok]",
	}
	// slept: from the step that shipped (or booked) through the sleep.
	slept = func(step string) []string {
		return []string{
			step + ":running -> Remind:waiting [ok]",
			"Remind:waiting -> Remind:running",
			"Remind:running -> Notify:running [ok]",
		}
	}
	// undone: the card voided and the stock released (newest completion
	// first), after a failure.
	undone = []string{undo + "failing", "failing -> compensated"}
	// visited: the concierge route through the child run of Visit.
	visited = []string{
		"Route:running -> Concierge:waiting [when1]",
		"Concierge:waiting -> Concierge:running",
	}
	// visit is the child run of Visit that books a concierge.
	visit = []string{
		"pending -> Book:running",
		"Book:running -> Confirm:running [ok]",
		"Confirm:running -> done [ok]",
	}
	standard = join(prepared, []string{"Route:running -> Ship:running [otherwise]"}, slept("Ship"), []string{"Notify:running -> done [ok]"})
)

// expectations of each scenario: how it ends, its transitions, its
// branches' transitions, what the services hold of it, and the reminders
// sent.
var want = map[string]struct {
	final       runtime.RunState
	transitions []string
	branches    map[string][]string
	effects     string
	reminders   int
	// children are the transitions of each child run, by the child's
	// run ID less the order's.
	children map[string][]string
}{
	"standard": {runtime.StateDone, standard, bothOK,
		"stock res-1 (2 book) reserved; card auth-1 (40 EUR) authorized; parcel trk-1 (standard to 1 Main St) sent", 1, nil},
	"express": {runtime.StateDone, join(prepared, []string{"Route:running -> ShipFast:running [when2]"}, slept("ShipFast"), []string{"Notify:running -> done [ok]"}), bothOK,
		"stock res-1 (2 book) reserved; card auth-1 (40 EUR) authorized; parcel trk-1 (express to 1 Main St) sent", 1, nil},
	"concierge": {runtime.StateDone, join(prepared, visited, slept("Concierge"), []string{"Notify:running -> done [ok]"}), bothOK,
		"stock res-1 (2 book) reserved; card auth-1 (150 EUR) authorized; concierge bk-1 (for Ann) booked", 1,
		map[string][]string{"@Concierge": visit}},
	// The reminder fails after the child run ended done: the rollback of
	// Concierge cancels the booking in a child run of CancelVisit.
	"concierge-mailbox-full": {runtime.StateCompensated, join(prepared, visited, slept("Concierge"), []string{
		"Notify:running -> failing [error]",
		"failing -> Concierge:rollback",
		"Concierge:rollback -> failing [ok]",
	}, undone), bothOK,
		"stock res-1 (2 book) reserved then released; card auth-1 (150 EUR) authorized then voided; concierge bk-1 (for Ann) booked then cancelled", 0,
		map[string][]string{
			"@Concierge": visit,
			"@Concierge:rollback": {
				"pending -> Cancel:running",
				"Cancel:running -> done [ok]",
			},
		}},
	// The stock branch fails (after its retry) while the card branch has
	// completed: the card is voided.
	"no-stock": {runtime.StateCompensated, join([]string{"pending -> Prepare:parallel", "Prepare:parallel -> failing [error]"}, undone),
		map[string][]string{
			OrderStepReserveStock: {
				"Prepare:parallel -> ReserveStock:running",
				"ReserveStock:running -> ReserveStock:running [retry]",
				"ReserveStock:running -> Prepare:parallel [error]",
			},
			OrderStepAuthorizeCard: cardOK,
		},
		"card auth-1 (40 EUR) authorized then voided", 0, nil},
	// The card branch fails while the stock branch completes: the stock
	// is released; the declined card has nothing to undo.
	"declined": {runtime.StateCompensated, join([]string{"pending -> Prepare:parallel", "Prepare:parallel -> failing [error]"}, undone),
		map[string][]string{
			OrderStepReserveStock: stockOK,
			OrderStepAuthorizeCard: {
				"Prepare:parallel -> AuthorizeCard:running",
				"AuthorizeCard:running -> Prepare:parallel [error]",
			},
		},
		"stock res-1 (2 book) reserved then released", 0, nil},
	// The child run fails (it had nothing to undo): the order's step
	// fails with its cause.
	"no-concierge": {runtime.StateCompensated, join(prepared, []string{
		"Route:running -> Concierge:waiting [when1]",
		"Concierge:waiting -> failing [error]",
	}, undone), bothOK, "stock res-1 (2 book) reserved then released; card auth-1 (150 EUR) authorized then voided", 0,
		map[string][]string{"@Concierge": {
			"pending -> Book:running",
			"Book:running -> failing [error]",
			"failing -> failed",
		}}},
	"no-express": {runtime.StateCompensated, join(prepared, []string{
		"Route:running -> ShipFast:running [when2]",
		"ShipFast:running -> failing [error]",
	}, undone), bothOK, "stock res-1 (2 book) reserved then released; card auth-1 (40 EUR) authorized then voided", 0, nil},
	"no-route": {runtime.StateCompensated, join(prepared, []string{
		"Route:running -> Ship:running [otherwise]",
		"Ship:running -> failing [error]",
	}, undone), bothOK, "stock res-1 (2 book) reserved then released; card auth-1 (40 EUR) authorized then voided", 0, nil},
	// The parcel has left (Ship is irreversible): the rest is undone.
	"mailbox-full": {runtime.StateCompensated, join(prepared, []string{"Route:running -> Ship:running [otherwise]"}, slept("Ship"),
		[]string{"Notify:running -> failing [error]"}, undone), bothOK,
		"stock res-1 (2 book) reserved then released; card auth-1 (40 EUR) authorized then voided; parcel trk-1 (standard to 1 Main St) sent", 0, nil},
	// Abort during the sleep: the wait ends at once, no reminder.
	"abort": {runtime.StateAborted, join(prepared, []string{
		"Route:running -> Ship:running [otherwise]",
		"Ship:running -> Remind:waiting [ok]",
		"Remind:waiting -> aborting",
		undo + "aborting",
		"aborting -> aborted",
	}), bothOK, "stock res-1 (2 book) reserved then released; card auth-1 (40 EUR) authorized then voided; parcel trk-1 (standard to 1 Main St) sent", 0, nil},
}

// children returns the transitions of each child run of order runID, by
// the child's ID less runID, and checks that each names its parent.
func children(t *testing.T, a *app, runID string) map[string][]string {
	t.Helper()
	st, err := a.flow.Status(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Children) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, c := range st.Children {
		h, err := a.store.Load(c.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) == 0 || h[0].Parent == nil || *h[0].Parent != (runtime.RunRef{Flow: "Order", RunID: runID}) {
			t.Errorf("child run %s does not name its parent %s", c.RunID, runID)
		}
		out[strings.TrimPrefix(c.RunID, runID)] = demotest.Transitions(h)
	}
	return out
}

// newTestApp opens the app on a new store.
func newTestApp(t *testing.T) *app {
	return demotest.Open(t, func(dir string) (*app, error) { return openApp(dir, demo.NewLive(io.Discard, columns, "")) })
}

// TestScenarios places each scenario's order on a store of its own and
// requires exactly the transitions the flow declares (read back from the
// store), the services left as they should be, and the reminders sent:
// the three routes of the choose, a failure at each step that can fail
// (every rpc and the publication), and an abort during the sleep.
func TestScenarios(t *testing.T) {
	if len(scenarios) != len(want) {
		t.Fatalf("%d scenarios, %d expectations", len(scenarios), len(want))
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			w := want[sc.Name]
			a := newTestApp(t)
			o, err := play(context.Background(), a, sc, "order-"+sc.Name)
			if err != nil {
				t.Fatal(err)
			}
			if o.res.Final != w.final {
				t.Errorf("final = %s, want %s (err %v)", o.res.Final, w.final, o.res.Err)
			}
			if diff := cmp.Diff(expand(w.transitions, completions(o.history)), demotest.Transitions(o.history)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(w.branches, branches(o.history)); diff != "" {
				t.Errorf("branches (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(w.children, children(t, a, o.res.RunID)); diff != "" {
				t.Errorf("child runs (-want +got):\n%s", diff)
			}
			if got := o.effects.String(); got != w.effects {
				t.Errorf("effects = %q\nwant       %q", got, w.effects)
			}
			if o.reminders != w.reminders {
				t.Errorf("reminders = %d, want %d", o.reminders, w.reminders)
			}
			if status, err := runtime.Replay(o.history); err != nil || status.State != w.final {
				t.Errorf("replay: %v %v", status.State, err)
			}
			// The store says the run is over.
			if ids, err := a.flow.Runs(context.Background(), a.store, w.final); err != nil || len(ids) != 1 || ids[0] != o.res.RunID {
				t.Errorf("runs of the store in state %s: %v, %v", w.final, ids, err)
			}
			if t.Failed() { // the errors the transitions above leave out
				for _, e := range o.history {
					if e.Error != "" {
						t.Logf("event %d %s -> %s [%s]: %s", e.Seq, e.From, e.To, e.Outcome, e.Error)
					}
				}
			}
		})
	}
}

// TestAbortDuringChild aborts an order while it waits for its child run
// of Visit: the child is aborted (its booking call cancelled), then the
// order rolls back its own completed steps and ends aborted.
func TestAbortDuringChild(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	s := with(func(s *OrderState) { s.Tier, s.Total, s.Card.Amount, s.Contact.Name = "gold", 150, 150, godot })
	run, err := a.flow.Start(ctx, s, runtime.WithRunID("waiting"))
	if err != nil {
		t.Fatal(err)
	}
	child := "waiting@" + OrderStepConcierge
	for run.Status().Machine != runtime.WaitingState(OrderStepConcierge) || !booking(a, child) {
		select {
		case <-run.Done():
			t.Fatalf("the order ended before it waited for its child: %s", run.Status().State)
		case <-time.After(time.Millisecond):
		}
	}
	if err := run.Abort(); err != nil {
		t.Fatal(err)
	}
	res, _ := run.Wait(ctx)
	if res.Final != runtime.StateAborted {
		t.Fatalf("final = %s (%v), want aborted", res.Final, res.Err)
	}
	h, err := a.flow.History(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	wantT := join(prepared, []string{
		"Route:running -> Concierge:waiting [when1]",
		"Concierge:waiting -> aborting",
		undo + "aborting",
		"aborting -> aborted",
	})
	if diff := cmp.Diff(expand(wantT, completions(h)), demotest.Transitions(h)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if st, err := a.visit.Status(ctx, child); err != nil || st.State != runtime.StateAborted {
		t.Errorf("the child run: %+v, %v; want it aborted", st, err)
	}
	if got, want := a.world.of(res.RunID).String(), "stock res-1 (2 book) reserved then released; card auth-1 (150 EUR) authorized then voided"; got != want {
		t.Errorf("effects = %q, want %q", got, want)
	}
}

// booking says whether the child run id is in its Book attempt.
func booking(a *app, id string) bool {
	st, err := a.visit.Status(context.Background(), id)
	return err == nil && st.Machine == runtime.RunningState(VisitStepBook)
}

// TestSleepIsDurable: the run sleeping in Remind holds a recorded wake-up
// two weeks after the step was entered, and does not wake a moment
// before it.
func TestSleepIsDurable(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	run, err := a.flow.Start(ctx, ann, runtime.WithRunID("sleepy"))
	if err != nil {
		t.Fatal(err)
	}
	if !asleep(run) {
		t.Fatal("the run ended before it slept")
	}
	entered := a.clock.Now()
	st := run.Status()
	if st.Wait == nil || !st.Wait.Until.Equal(entered.Add(336*time.Hour)) {
		t.Fatalf("wait = %+v, want one until %v", st.Wait, entered.Add(336*time.Hour))
	}
	a.clock.Advance(336*time.Hour - time.Second)
	time.Sleep(20 * time.Millisecond) // a wake-up, if wrong, would have happened
	if m := run.Status().Machine; m != runtime.WaitingState(OrderStepRemind) {
		t.Fatalf("a second before its time, the run is %s", m)
	}
	a.clock.Advance(time.Second)
	res, err := run.Wait(ctx)
	if err != nil || res.Final != runtime.StateDone {
		t.Fatalf("after two weeks: %s, %v", res.Final, err)
	}
}

// TestConcurrentOrders places many orders at once on one store: each ends
// done with its own stock, card and parcel, and nothing is done twice.
func TestConcurrentOrders(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	const n = 40
	runs := make([]*OrderRun, n)
	for i := range runs {
		s := with(func(s *OrderState) { s.Express = i%2 == 0 })
		r, err := a.flow.Start(ctx, s, runtime.WithRunID(fmt.Sprintf("many-%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = r
	}
	// Every run sleeps, then two weeks pass for all at once: moving the
	// shared fake clock while another run is in an attempt would time the
	// attempt out.
	for _, r := range runs {
		if !asleep(r) {
			t.Fatalf("%s ended before it slept: %v", r.ID(), r.Status().State)
		}
	}
	a.clock.Advance(336 * time.Hour)
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() {
			res, err := r.Wait(ctx)
			if err != nil || res.Final != runtime.StateDone {
				t.Errorf("%s: %s, %v", r.ID(), res.Final, err)
				return
			}
			e := a.world.of(r.ID())
			if len(e.reservations) != 1 || len(e.authorizations) != 1 || len(e.shipments) != 1 || a.mail.reminders(r.ID()) != 1 {
				t.Errorf("%s: %s, %d reminders", r.ID(), e, a.mail.reminders(r.ID()))
			}
		})
	}
	wg.Wait()
	if ids, err := a.flow.Runs(ctx, a.store, runtime.StateDone); err != nil || len(ids) != n {
		t.Errorf("done runs in the store: %d, %v", len(ids), err)
	}
}

// TestOutput runs the program twice on one store and checks that it
// reports every scenario's end, both times, with runs of their own.
func TestOutput(t *testing.T) {
	demotest.Output(t, run, "Order", 2*len(scenarios),
		"=> done\n",
		"=> compensated (step Prepare: branch ReserveStock: inventory: no unicorn in stock)",
		"=> compensated (step Prepare: branch AuthorizeCard: payments: card declined)",
		"=> compensated (step Notify: mail: the mailbox of full@example.com is full)",
		"=> aborted",
		"-> Confirm:running            [ok]  (child run concierge-",
		"@Concierge:rollback)", // the child run of CancelVisit
	)
}

// TestCommandLine checks -store and -crash-after (demotest.CommandLine).
func TestCommandLine(t *testing.T) { demotest.CommandLine(t, run) }

// TestKillAndResume runs the program for real: started with -crash-after
// STEP it must die by SIGKILL right after STEP completed; a second start
// on the same store must resume the run, finish it, and leave exactly one
// reservation, one authorisation and one parcel for it: the steps that
// completed before the kill did not run again. After Ship the run dies
// asleep, and the second process wakes it at the recorded time.
func TestKillAndResume(t *testing.T) {
	demotest.KillAndResume{
		Flow: "Order",
		// Each step of the concierge order, and the machine state its
		// completion leads to.
		Kills: []demotest.Kill{
			// A branch of Prepare completed: the run is in the block while
			// the other branch runs (or is about to leave it, but the kill
			// comes first).
			{Step: OrderStepReserveStock, Next: runtime.ParallelState(OrderStepPrepare)},
			{Step: OrderStepAuthorizeCard, Next: runtime.ParallelState(OrderStepPrepare)},
			{Step: OrderStepRoute, Next: runtime.WaitingState(OrderStepConcierge)},
			// A step of the child run of Visit: the order waits for it.
			{Step: VisitStepBook, Next: runtime.WaitingState(OrderStepConcierge)},
			{Step: OrderStepConcierge, Next: runtime.WaitingState(OrderStepRemind)},
			{Step: OrderStepRemind, Next: runtime.RunningState(OrderStepNotify)},
		},
		End: "=> done\n     " + want["concierge"].effects + "; 1 reminder(s) sent",
		Killed: func(t *testing.T, dir string, k demotest.Kill, crashed store.RunInfo) {
			if k.Step != VisitStepBook {
				return
			}
			// The kill came inside the child run: it is on its next step.
			child := demotest.StoredRuns(t, dir, "Visit")
			if len(child) != 1 || child[0].Parent != crashed.RunID || child[0].Machine != runtime.RunningState(VisitStepConfirm) {
				t.Fatalf("stored child runs before the restart: %+v, want one in %s", child, runtime.RunningState(VisitStepConfirm))
			}
		},
		Resumed: func(t *testing.T, dir string, crashed store.RunInfo, before []runtime.Event) {
			h := demotest.StoredHistory(t, dir, crashed.RunID)
			if diff := cmp.Diff(want["concierge"].transitions, demotest.Transitions(h)); diff != "" {
				t.Errorf("history of the resumed run (-want +got):\n%s", diff)
			}
			resumedBranches(t, before, h)
			// One child run of Visit, the one the order started: a crash
			// during it resumed it, and did not start a second.
			// (The second process placed the scenarios' orders too.)
			var visits []store.RunInfo
			for _, r := range demotest.StoredRuns(t, dir, "Visit") {
				if r.Parent == crashed.RunID {
					visits = append(visits, r)
				}
			}
			if len(visits) != 1 || visits[0].RunID != crashed.RunID+"@"+OrderStepConcierge {
				t.Errorf("runs of Visit in the store: %+v, want one, %s@%s", visits, crashed.RunID, OrderStepConcierge)
			} else if diff := cmp.Diff(visit, demotest.Transitions(demotest.StoredHistory(t, dir, visits[0].RunID))); diff != "" {
				t.Errorf("history of the child run (-want +got):\n%s", diff)
			}
			if status, err := runtime.Replay(h); err != nil || status.State != runtime.StateDone {
				t.Errorf("replay: %v %v", status.State, err)
			}
			w, err := openWorld(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := w.of(crashed.RunID)
			if got := e.String(); got != want["concierge"].effects {
				t.Errorf("the services hold, for the resumed run, %s", got)
			}
			// One record each, made under the branch's idempotency key: a
			// branch run again after the crash used the same key.
			for key, list := range map[string][]record{
				crashed.RunID + "/" + OrderStepReserveStock:                    e.reservations,
				crashed.RunID + "/" + OrderStepAuthorizeCard:                   e.authorizations,
				crashed.RunID + "@" + OrderStepConcierge + "/" + VisitStepBook: e.bookings,
			} {
				if len(list) != 1 || list[0].Key != key {
					t.Errorf("the services made %+v, want one record under key %s", list, key)
				}
			}
		},
	}.Run(t)
}

// resumedBranches checks the branches of Prepare across a crash: a branch
// that had completed before (in history before) did not run again; one in
// flight, or not started, ran again after the crash and completed.
func resumedBranches(t *testing.T, before, after []runtime.Event) {
	t.Helper()
	was, now := branches(before), branches(after)
	done := completions(before)
	for _, b := range []string{OrderStepReserveStock, OrderStepAuthorizeCard} {
		if slices.Contains(done, b) {
			if diff := cmp.Diff(was[b], now[b]); diff != "" {
				t.Errorf("branch %s completed before the crash but its events changed (-before +after):\n%s", b, diff)
			}
			continue
		}
		// Resumed where its history left it: a branch recorded running
		// runs its attempt again (no new start event), one never started
		// starts now.
		got := now[b]
		if len(got) <= len(was[b]) || !slices.Equal(got[:len(was[b])], was[b]) || !strings.HasSuffix(got[len(got)-1], "[ok]") {
			t.Errorf("branch %s was in flight at the crash; before %q, after %q: want it run on and completed", b, was[b], got)
		}
		if !slices.Contains(got, "Prepare:parallel -> "+b+":running") {
			t.Errorf("branch %s never started: %q", b, got)
		}
	}
}
