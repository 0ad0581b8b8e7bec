package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

func testMsg(id, payload string) *inMsg {
	return &inMsg{k: store.MessageKey{Topic: "t", Event: "e", ID: id}, payload: []byte(payload), hi: -1}
}

func testWait(run string, correlated bool, field, value string) *waitSub {
	return &waitSub{req: takeReq{key: run, topic: "t", event: "e", correlated: correlated, field: field, value: value}}
}

// A message goes to the oldest wait it matches, whichever way the waits
// match (any message, the default field, another field); waits of other
// values, fields or events are left alone; a removed wait takes nothing.
func TestWaitsMatchOldest(t *testing.T) {
	ws := newWaits()
	any := testWait("any", false, "", "")
	byDefault := testWait("default", true, "", "x")
	byOrder := testWait("order", true, "order_id", "x")
	byName := testWait("named-default", true, runtime.CorrelationField, "x") // the default field, by its name
	other := testWait("other", true, "", "y")
	gone := testWait("gone", true, "", "x")
	for _, s := range []*waitSub{any, byDefault, byOrder, byName, other, gone} {
		ws.add(s)
	}
	if !ws.remove(gone) || ws.remove(gone) {
		t.Fatal("remove: want true once, then false")
	}
	m := testMsg("m", `{"correlation_id": "x", "order_id": "x"}`)
	var got []string
	for s := ws.match(m); s != nil; s = ws.match(m) {
		got = append(got, s.req.key)
	}
	if fmt.Sprint(got) != "[any default order named-default]" {
		t.Fatalf("matched %v, oldest first", got)
	}
	if ws.count() != 1 || ws.match(testMsg("z", `{"correlation_id": "z"}`)) != nil {
		t.Fatalf("%d waits left; want only the one for y, which z does not match", ws.count())
	}
	if s := ws.match(testMsg("y", `{"correlation_id": "y"}`)); s != other || ws.count() != 0 || len(ws.byTE) != 0 {
		t.Fatalf("y matched %v; %d waits, %d topics left", s, ws.count(), len(ws.byTE))
	}
}

// BenchmarkWaitsMatch matches events to n waiting runs, each awaiting its
// own correlation value, the events arriving newest wait first (the worst
// order for a list scanned oldest first): the time per match with 20,000
// waits over the time with 100 (x-100, 1 when the index does not grow with
// the waits).
func BenchmarkWaitsMatch(b *testing.B) {
	perMatch := func(n int) float64 {
		ws := newWaits()
		msgs := make([]*inMsg, n)
		for i := range n {
			ws.add(testWait(fmt.Sprint("r", i), true, "", fmt.Sprint("k", i)))
			msgs[n-1-i] = testMsg(fmt.Sprint("m", i), fmt.Sprintf(`{"correlation_id": "k%d"}`, i))
		}
		began := time.Now()
		for _, m := range msgs {
			if ws.match(m) == nil {
				b.Fatal("no wait matched")
			}
		}
		return float64(time.Since(began)) / float64(n)
	}
	reportPerMatch(b, perMatch)
}

// reportPerMatch runs perMatch (the time per match among n, in ns) with
// 100 and with 20,000 each iteration, and reports both (ns/match-100,
// ns/match-20000) and their ratio (x-100: 1 when the time per match does
// not grow with n).
func reportPerMatch(b *testing.B, perMatch func(n int) float64) {
	var small, large float64
	for b.Loop() {
		small += perMatch(100)
		large += perMatch(20000)
	}
	b.ReportMetric(large/float64(b.N), "ns/match-20000")
	b.ReportMetric(small/float64(b.N), "ns/match-100")
	b.ReportMetric(large/small, "x-100")
	b.ReportMetric(0, "ns/op")
}
