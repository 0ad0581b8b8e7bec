package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/logtest"
)

// providerFixtureLogged is a fixture with remote providers on, whose
// engine logs to the buffer returned.
func providerFixtureLogged(t *testing.T) (*fixture, *logtest.Buffer) {
	fx := newFixture(t)
	fx.remote = &ProviderOptions{}
	logs := new(logtest.Buffer)
	fx.log = slog.New(slog.NewTextHandler(logs, nil))
	return fx, logs
}

// A callback URL's query, which a registration may give (a key of the
// provider's own), is not in the engine's log: the failed call's line,
// the client's error it quotes and the passed-over line show the URL
// with "?..."; each showed the query whole.
func TestProviderLogsCutCallbackQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/step/Reserve"
	ln.Close() // nothing listens there: connection refused, passed over
	fx, logs := providerFixtureLogged(t)
	_, e, srv := startRemote(t, fx)
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "url": "`+base+`?key=SECRET-KEY"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	if _, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry to wait for a provider", func() bool { return reserveWaits(e) > 0 })
	got := logs.String()
	if strings.Contains(got, "SECRET-KEY") {
		t.Errorf("the log holds the callback's query:\n%s", got)
	}
	for _, msg := range []string{`msg="provider call failed"`, `msg="provider replica unreachable: passed over`} {
		if !strings.Contains(got, msg) || !strings.Contains(got, "url="+base+"?...") {
			t.Errorf("log:\n%s\nwant %s with url=%s?...", got, msg, base)
		}
	}
}

// The passed-over line of a NATS provider's replica names its subject
// alone, as the failed call's line does (target.where): it said url=""
// too.
func TestPassedOverNamesWhereTheCallWent(t *testing.T) {
	fx, logs := providerFixtureLogged(t)
	e := fx.start()
	t.Cleanup(fx.stop)
	e.remote.passOver(target{provider: "billing", h: provider.Handler{Name: "Bill.Check", Subject: "billing.check"}})
	got := logs.String()
	if !strings.Contains(got, "handler=Bill.Check subject=billing.check") || strings.Contains(got, "url=") {
		t.Errorf("log:\n%s\nwant the subject alone", got)
	}
}

// A lease change refused as another credential's is logged within the
// bound of refused requests (RefusalLogBurst an interval): a provider's
// credential makes them at will, and each was logged.
func TestLeaseRefusalsLoggedBounded(t *testing.T) {
	fx, logs := providerFixtureLogged(t)
	fx.auth = newTokenAuth(t, "provider "+providerToken+"\nprovider "+otherProviderToken+"\n")
	_, _, srv := startRemote(t, fx)
	first, _ := countingProvider(t)
	if status, _, body := send(t, srv, "PUT", "/providers/billing", providerToken, "application/json", billingReg(first.URL, "10m")); status != http.StatusOK {
		t.Fatalf("register: %d %s", status, body)
	}
	for range 3 * RefusalLogBurst {
		if status, _, body := send(t, srv, "POST", "/providers/billing/renew", otherProviderToken, "application/json", ""); status != http.StatusForbidden {
			t.Fatalf("another credential renews: %d %s, want 403", status, body)
		}
	}
	if n := strings.Count(logs.String(), `msg="provider lease change refused`); n != RefusalLogBurst {
		t.Errorf("%d refusals logged of %d, want %d", n, 3*RefusalLogBurst, RefusalLogBurst)
	}
}
