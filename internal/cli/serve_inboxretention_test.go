package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/listen"
)

// -inbox-retention is how long an awaited event no run takes is kept: once
// it has expired, its ID is new again, and the same ID with another
// payload is a new event (202), where it was refused as the reuse of an
// ID (422) while kept.
func TestServeInboxRetention(t *testing.T) {
	flows := t.TempDir()
	if err := os.WriteFile(filepath.Join(flows, "Greet.json"), []byte(serveFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _, stop := serveWith(t, serveConfig{store: t.TempDir(), flows: flows, net: listen.Config{Addr: "127.0.0.1:0"},
		limits: serverLimits{inboxRetention: 200 * time.Millisecond}})
	defer stop()
	if code, out := call(t, "POST", url+"/events/people/arrived?id=m1", `{"n": 1}`); code != http.StatusAccepted {
		t.Fatalf("POST /events: %d %v", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := call(t, "POST", url+"/events/people/arrived?id=m1", `{"n": 2}`)
		if code == http.StatusAccepted {
			break
		}
		if code != http.StatusUnprocessableEntity || time.Now().After(deadline) {
			t.Fatalf("the same ID with another payload: %d %v; want 422 until the first event expires, then 202", code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
