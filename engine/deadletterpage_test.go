package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// GET /deadletters answers a page, as GET /runs does: at most ?limit= dead
// letters (default DefaultListLimit, from 1 to MaxListLimit, else 400),
// the first that arrived, and "truncated": true when more are kept (narrow
// with topic and event; `flowgen inbox -state dead` lists them all). The
// answer no longer grows with every dead letter the retention keeps.
func TestDeadLettersPage(t *testing.T) {
	fx := newFixture(t)
	n := DefaultListLimit + 1
	at := time.Now()
	for i := range n {
		m := store.Message{Topic: "orders", Event: "order.placed", ID: fmt.Sprintf("m-%03d", i), Payload: json.RawMessage(`{}`), Received: at}
		if err := fx.st.(*store.Memory).DeadLetter(context.Background(), m, "test", at); err != nil {
			t.Fatal(err)
		}
	}
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	for _, tc := range []struct {
		query     string
		want      int
		truncated bool
	}{
		{"", DefaultListLimit, true},
		{"?limit=2", 2, true},
		{"?topic=orders&limit=" + fmt.Sprint(MaxListLimit), n, false},
	} {
		status, body := c.do("GET", "/deadletters"+tc.query, "")
		dls, _ := body["dead_letters"].([]any)
		if status != 200 || len(dls) != tc.want || (body["truncated"] == true) != tc.truncated {
			t.Fatalf("GET /deadletters%s: %d, %d dead letters, truncated %v; want 200, %d, %v", tc.query, status, len(dls), body["truncated"], tc.want, tc.truncated)
		}
		if id := dls[0].(map[string]any)["id"]; id != "m-000" {
			t.Errorf("GET /deadletters%s starts with %v, want the first that arrived", tc.query, id)
		}
	}
	for _, q := range []string{"0", "-1", fmt.Sprint(MaxListLimit + 1), "x"} {
		if status, body := c.do("GET", "/deadletters?limit="+q, ""); status != 400 {
			t.Errorf("GET /deadletters?limit=%s: %d %v, want 400", q, status, body)
		}
	}
}
