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

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.KeepLease(ctx, hs) }()
	waitFor(t, "renewals after the registration", func() bool {
		log, _, _ := f.snapshot()
		return strings.Contains(strings.Join(log, " "), "PUT RENEW RENEW")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("KeepLease: %v", err)
	}
	got := logs.String()
	if n := strings.Count(got, `msg="provider registered, with a warning" provider=billing warning="no registered flow has a Go step that handler \"Billing.Reconcle\" serves (yet)"`); n != 1 {
		t.Errorf("log:\n%s\nwant the registration's warning once", got)
	}
}
