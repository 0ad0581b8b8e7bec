package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const (
	// checkoutDoc calls Payment, which another document defines.
	checkoutDoc = `{"version": 1, "flows": [
 {"name": "Checkout", "state": "Cart", "triggers": [{"kind": "rpc", "endpoint": "Checkout.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "call", "flow": "Payment", "request": "Bill", "response": "Paid"}, "irreversible": true}]}]}`
	paymentDoc = `{"version": 1, "flows": [
 {"name": "Payment", "state": "Bill", "steps": [{"name": "Charge", "action": {"kind": "go"}, "irreversible": true}]}]}`
	// bothDoc defines the two in one document; the API saves each flow in
	// a file of its own, the caller's first in name order.
	bothDoc = `{"version": 1, "flows": [
 {"name": "Checkout", "state": "Cart", "triggers": [{"kind": "rpc", "endpoint": "Checkout.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "call", "flow": "Payment", "request": "Bill", "response": "Paid"}, "irreversible": true}]},
 {"name": "Payment", "state": "Bill", "steps": [{"name": "Charge", "action": {"kind": "go"}, "irreversible": true}]}]}`
)

func newCallDocsEngine(t *testing.T, st Store, dir string) *Engine {
	t.Helper()
	e, err := New(Options{Store: st, FlowsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Payment.Charge", func(_ context.Context, s *State) (runtime.Outcome, error) {
		return "", s.Set("charged", s.String("amount"))
	})
	return e
}

// A flow calls a flow of another document the engine has loaded, and the
// flows directory the API saved them into loads again at the next start,
// whatever the order of its files.
func TestCallAcrossDocuments(t *testing.T) {
	for _, tc := range []struct {
		name string
		docs []string
	}{
		{"two documents", []string{paymentDoc, checkoutDoc}},
		{"one document", []string{bothDoc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, st := t.TempDir(), store.NewMemory()
			e := newCallDocsEngine(t, st, dir)
			for _, doc := range tc.docs {
				if ds, err := e.LoadFlows("doc.json", []byte(doc)); err != nil {
					t.Fatal(err, ds)
				}
			}
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			id, err := e.StartRun(context.Background(), "Checkout", json.RawMessage(`{"Bill": {"amount": "12"}}`), "")
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "checkout done", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
			s, err := e.Status(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(s.Snapshot), `"charged":"12"`) {
				t.Fatalf("checkout's state %s: the child's result is missing", s.Snapshot)
			}
			if err := e.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			again := newCallDocsEngine(t, st, dir)
			if ds, err := again.LoadFlowsDir(); err != nil {
				t.Fatalf("the flows directory does not load again: %v %v", err, ds)
			}
			if _, err := again.FlowJSON("Checkout"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A call to a flow neither the document nor the engine has is refused,
// and so is a cycle through a registered flow; nothing changes.
func TestCallAcrossDocumentsRefused(t *testing.T) {
	e := newCallDocsEngine(t, store.NewMemory(), "")
	ds, err := e.LoadFlows("checkout.json", []byte(checkoutDoc))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(fmt.Sprint(ds), `calls flow "Payment", which neither this file nor the engine's flows declares`) {
		t.Fatalf("a call to an unknown flow: %v\n%v", err, ds)
	}
	if _, err := e.FlowJSON("Checkout"); err == nil {
		t.Fatal("the refused flow was registered")
	}
	if ds, err := e.LoadFlows("payment.json", []byte(paymentDoc)); err != nil {
		t.Fatal(err, ds)
	}
	if ds, err := e.LoadFlows("checkout.json", []byte(checkoutDoc)); err != nil {
		t.Fatal(err, ds)
	}
	// Payment calling Checkout back: Checkout -> Payment -> Checkout.
	cyclic := strings.Replace(paymentDoc, `{"name": "Charge", "action": {"kind": "go"}, "irreversible": true}`,
		`{"name": "Back", "action": {"kind": "call", "flow": "Checkout"}, "irreversible": true}`, 1)
	ds, err = e.LoadFlows("payment.json", []byte(cyclic))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(fmt.Sprint(ds), `flow "Payment" calls itself through "Checkout"`) {
		t.Fatalf("a cycle through a registered flow: %v\n%v", err, ds)
	}
	if def, _ := e.FlowJSON("Payment"); !strings.Contains(string(def), "Charge") {
		t.Fatalf("the refused definition replaced Payment: %s", def)
	}
}
