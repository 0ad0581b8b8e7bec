package main

import (
	"log/slog"
	"testing"

	"github.com/flowgen/flowgen/internal/listen"
)

// GET /watch streams take at most half of -max-conns' places, as under
// flowgen serve (listen.MaxWatchers): without the cap, the engine's 64
// streams could hold every place of -max-conns 6 and leave none for the
// API.
func TestServeWatchersLeaveConnectionsForTheAPI(t *testing.T) {
	for _, c := range []struct{ conns, want int }{{6, 3}, {100, 50}, {2, 1}} {
		cfg := config{net: listen.Config{Limits: listen.Limits{MaxConns: c.conns}}}
		if got := engineOptions(cfg, nil, nil, slog.New(slog.DiscardHandler)).MaxWatchers; got != c.want {
			t.Errorf("-max-conns %d: the engine's MaxWatchers is %d, want %d", c.conns, got, c.want)
		}
	}
}
