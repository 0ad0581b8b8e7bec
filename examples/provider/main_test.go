package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
)

// An engine the provider cannot reach (a mistyped -engine, a server not
// started yet) is said on stderr as the provider retries, not waited on
// in silence; the end of ctx then stops it with status 0.
func TestSaysWhyNotRegistered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every registration fails

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr logtest.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-engine", "http://" + addr}, &stderr) }()

	// Not a timed assertion: the bound only keeps a broken build from
	// hanging the test; the first retry logs within 100ms.
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stderr.String(), "provider not registered yet"); {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no word of the failed registration on stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), addr) {
		t.Errorf("stderr does not name the engine it cannot reach (%s):\n%s", addr, stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit status %d after Ctrl-C, want 0:\n%s", code, stderr.String())
	}
}

// A flag the program does not have is a usage error (2), a refused
// registration (a token of another role) an error (1) that says why.
func TestExitStatus(t *testing.T) {
	var stderr logtest.Buffer
	if code := run(context.Background(), []string{"-engin", "x"}, &stderr); code != 2 {
		t.Errorf("a bad flag: exit %d, want 2:\n%s", code, stderr.String())
	}
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"engine: forbidden: PUT /providers/billing needs the provider role"}`))
	}))
	defer engine.Close()
	stderr = logtest.Buffer{}
	if code := run(context.Background(), []string{"-engine", engine.URL, "-token", "t"}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "needs the provider role") {
		t.Errorf("a refused registration: exit %d, want 1 and the engine's reason:\n%s", code, stderr.String())
	}
}
