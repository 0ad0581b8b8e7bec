package provider

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
)

// The engine's warnings of a granted registration (a handler no
// registered flow uses yet: a misspelt name, or a flow not loaded yet)
// reach the provider's Logger, once per registration, not at each
// renewal: before, KeepLease dropped them, and a provider of a misspelt
// handler served in silence while the runs waited for one.
func TestKeepLeaseLogsRegistrationWarnings(t *testing.T) {
	warning := `no registered flow has a Go step that handler "Billing.Reconcle" serves (yet)`
	f := &fakeEngine{warnings: []string{warning}}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	var logs logtest.Buffer
	p := New(Options{Name: "billing", Engine: eng.URL, Token: "tok", TTL: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	p.Step("Billing.Reconcle", func(ctx context.Context, c *Call) (string, error) { return "", nil })
	hs := p.Handlers(func(h *Handler) { h.URL = "http://127.0.0.1:9/" + h.Name })

	keepLeaseUntil(t, p, hs, f, "PUT RENEW RENEW")
	got := logs.String()
	if n := strings.Count(got, `msg="provider registered, with a warning" provider=billing warning="no registered flow has a Go step that handler \"Billing.Reconcle\" serves (yet)"`); n != 1 {
		t.Errorf("log:\n%s\nwant the registration's warning once", got)
	}
}

// Who starts a provider sees it registered, and with what: KeepLease logs
// the first registration and one again after the engine lost the lease
// (a renewal answered 404), once each, and no renewal. Before, it logged
// nothing once registered.
func TestKeepLeaseLogsRegistrations(t *testing.T) {
	f := &fakeEngine{forgotAt: 2}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	var logs logtest.Buffer
	p := newBillingWith(Options{Replica: "r1", Engine: eng.URL, TTL: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	hs := p.Handlers(func(h *Handler) { h.URL = "http://127.0.0.1:9/" + h.Name })
	keepLeaseUntil(t, p, hs, f, "PUT RENEW RENEW PUT RENEW RENEW")

	got := logs.String()
	attrs := ` provider=billing replica=r1 handlers="[Billing.Reconcile Unreconcile (rollback)]" expires=2026-12-07T14:00:30.000Z`
	for _, want := range []string{
		`level=INFO msg="provider registered"` + attrs,
		`level=INFO msg="provider registered again: the engine had lost its lease"` + attrs,
	} {
		if n := strings.Count(got, want+"\n"); n != 1 {
			t.Errorf("log:\n%s\nhas %d lines %q, want 1", got, n, want)
		}
	}
	if n := strings.Count(got, "level=INFO"); n != 2 {
		t.Errorf("log:\n%s\nhas %d Info lines, want the 2 registrations' (no renewal's)", got, n)
	}
}

// A provider written as docs/engine.md shows it, with no Logger, logs to
// slog.Default(), as httpcall does: before, the default discarded every
// line, so that a provider whose engine answered nothing (a wrong port)
// retried for ever in silence, and a handler's panic left no stack.
func TestKeepLeaseLogsToSlogDefaultWithoutLogger(t *testing.T) {
	var logs logtest.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := newBillingWith(Options{Replica: "r1", Engine: eng.URL, TTL: 300 * time.Millisecond})
	hs := p.Handlers(func(h *Handler) { h.URL = "http://127.0.0.1:9/" + h.Name })
	keepLeaseUntil(t, p, hs, f, "PUT RENEW")
	if got := logs.String(); !strings.Contains(got, `level=INFO msg="provider registered" provider=billing replica=r1`) {
		t.Errorf("slog.Default() got:\n%s\nwant the registration's line", got)
	}
}
