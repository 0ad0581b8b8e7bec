package main

import (
	"bytes"
	"log/slog"
	"strings"
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

// -payload-limit and -inbox-bytes set the executor's bounds (the step
// input's, jsonflows.Options.PayloadLimit, and an inbox's,
// jsonflows.Options.InboxBytes), for a cluster whose limit.blobSize.error
// is not Temporal's default: before, only the defaults could be had.
func TestServePayloadAndInboxBoundsReachTheExecutor(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-h"}, &out, &errb); code != 0 {
		t.Fatalf("serve -h: exit %d", code)
	}
	for _, want := range []string{"-payload-limit int", "-inbox-bytes int"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("serve -h does not list %s: %q", want, errb.String())
		}
	}
	cfg := config{payloadLimit: 4 << 20, inboxBytes: 3 << 20}
	opts := executorOptions(cfg, nil, 0, slog.New(slog.DiscardHandler))
	if opts.PayloadLimit != cfg.payloadLimit || opts.InboxBytes != cfg.inboxBytes {
		t.Errorf("the executor's PayloadLimit %d, InboxBytes %d; want %d, %d", opts.PayloadLimit, opts.InboxBytes, cfg.payloadLimit, cfg.inboxBytes)
	}
}

// A bound that is not positive is a usage error (exit 2) that names the
// flag, as -max-body's is, before anything dials the cluster.
func TestServeRefusesNonPositiveBounds(t *testing.T) {
	for _, c := range []struct{ flag, value, want string }{
		{"-payload-limit", "0", "-payload-limit must be positive, found 0"},
		{"-payload-limit", "-5", "-payload-limit must be positive, found -5"},
		{"-inbox-bytes", "0", "-inbox-bytes must be positive, found 0"},
		{"-inbox-bytes", "-1", "-inbox-bytes must be positive, found -1"},
		{"-inbox-bytes", "big", "invalid value \"big\" for flag -inbox-bytes"},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "-temporal", "127.0.0.1:1", "-flows", t.TempDir(), c.flag, c.value}, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("serve %s %s: exit %d, stderr %q; want 2 and %q", c.flag, c.value, code, errb.String(), c.want)
		}
	}
}

// An inbox bound that is not below the payload limit is a usage error
// (exit 2) before anything dials: an inbox carries what it holds into the
// input of its next run, which the cluster refuses past its payload limit,
// terminating the inbox and the events it held, accepted 202 each. Before,
// serve took -inbox-bytes 3145728 under the default -payload-limit.
func TestServeRefusesInboxBoundPastPayloadLimit(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-inbox-bytes", "3145728"}, "-inbox-bytes 3145728 must be below -payload-limit 2097152"},
		{[]string{"-payload-limit", "1000000", "-inbox-bytes", "1000000"}, "-inbox-bytes 1000000 must be below -payload-limit 1000000"},
		{[]string{"-payload-limit", "1000000"}, "-inbox-bytes 1572864 must be below -payload-limit 1000000"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"serve", "-temporal", "127.0.0.1:1", "-flows", t.TempDir()}, c.args...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("serve %q: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}
