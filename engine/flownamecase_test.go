package engine

import (
	"slices"
	"strings"
	"testing"
)

// Two flows whose names differ only in case would be saved as files that
// are one on a file system that ignores case (macOS's, Windows'): PUT of
// "ORDER" beside "Order" answered 200 and replaced Order.json there, and
// the next start found no flow Order. Refused on every system, with
// nothing written (409, flow-file), beside a registered flow or within one
// document.
func TestFlowNamesDifferingInCaseOnlyAreRefused(t *testing.T) {
	dir := t.TempDir()
	c := apiClient{t, httptestServer(t, dirEngine(t, dir))}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("Order", "Order.Start"))); status != 200 {
		t.Fatalf("PUT of Order: %d %v", status, out)
	}
	status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("ORDER", "ORDER.Start")))
	if msg := mustString(t, out); status != 409 || !strings.Contains(msg, "Order.json") || !strings.Contains(msg, "ignore case") {
		t.Fatalf("PUT of ORDER beside Order: %d %v", status, out)
	}
	status, out = c.do("PUT", "/flows", flowDoc(rpcFlow("Ship", "Ship.Start"), rpcFlow("SHIP", "SHIP.Start")))
	if msg := mustString(t, out); status != 409 || !strings.Contains(msg, "Ship.json") {
		t.Fatalf("PUT of Ship and SHIP: %d %v", status, out)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"Order.json"}) {
		t.Fatalf("flows directory holds %v, want Order.json alone", got)
	}
	// The same flow again, and another name, are fine.
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("Order", "Order.Begin"), rpcFlow("Orders", "Orders.Start"))); status != 200 {
		t.Fatalf("PUT of Order and Orders: %d %v", status, out)
	}
}
