package listen

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/flowgen/flowgen/engine"
)

// gatedWriter is a log destination whose first write waits for gate:
// the reload that writes it is under way until then.
type gatedWriter struct {
	once    sync.Once
	writing chan struct{} // closed as the first write begins
	gate    chan struct{}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.writing)
		<-g.gate
	})
	return len(p), nil
}

// A SIGHUP's reload under way when Serve stops (its watch's stop) is over
// before Serve returns: its log line is Serve's, and nothing of Serve goes
// on once it has returned. Before, stop returned at once and the reload
// logged after Serve had returned (and its command had closed its engine).
func TestStopWatchWaitsForTheReload(t *testing.T) {
	tokens := writeFile(t, filepath.Join(t.TempDir(), "tokens"), "admin "+adminToken+"\n")
	synctest.Test(t, func(t *testing.T) {
		a, err := engine.NewTokenAuth(tokens)
		if err != nil {
			t.Fatal(err)
		}
		w := &gatedWriter{writing: make(chan struct{}), gate: make(chan struct{})}
		// Made here rather than by New: no signal reaches a channel of
		// this bubble from outside it.
		s := &Server{log: slog.New(slog.NewTextHandler(w, nil)), auth: a, hup: make(chan os.Signal, 1)}
		stop := s.watch()
		s.hup <- syscall.SIGHUP
		<-w.writing // the reload logs
		stopped := make(chan struct{})
		go func() {
			stop()
			close(stopped)
		}()
		synctest.Wait()
		select {
		case <-stopped:
			t.Error("the watch stopped while its reload was under way")
		default:
		}
		close(w.gate)
		<-stopped
	})
}

// Serve returns once its onShutdown has: http.Server.Shutdown calls it on
// a goroutine of its own and does not wait for it, and Serve returned
// while it still ran.
func TestServeWaitsForOnShutdown(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ended atomic.Bool
	onShutdown := func() {
		for range 1000 {
			runtime.Gosched() // as a function with work to do
		}
		ended.Store(true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := func(string) { cancel() }
	if err := s.Serve(ctx, "test serve", http.NotFoundHandler(), onShutdown, ready); err != nil {
		t.Fatal(err)
	}
	if !ended.Load() {
		t.Error("Serve returned before its onShutdown did")
	}
}
