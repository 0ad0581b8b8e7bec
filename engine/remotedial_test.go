package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A callback registered by a name the allow-list admits is checked again
// where the engine connects, against the address the name resolved to:
// localhost (the default list's name) that a lookup leads to 0.0.0.0,
// which is no loopback address but which Linux connects to this machine
// on, is not connected to, and the attempt fails for good, naming no
// address.
func TestProviderDialChecksResolvedAddress(t *testing.T) {
	var reached atomic.Int32
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte(`{"state": {"Reached": true}}`))
	}))
	defer prov.Close()
	port := prov.URL[strings.LastIndex(prov.URL, ":")+1:]
	_, e, srv := remoteFixture(t, ProviderOptions{})
	e.remote.client = providerClientResolving(e.remote.allow, func(host string) string {
		if host == "localhost" {
			return "0.0.0.0"
		}
		return host
	})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "url": "http://localhost:`+port+`/r"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var st RunStatus
	waitFor(t, "the run to end or the provider to be called", func() bool {
		st, _ = e.Status(context.Background(), id)
		return st.State.Terminal() || reached.Load() > 0
	})
	h, _ := e.History(context.Background(), id)
	refused := 0
	for _, ev := range h {
		if ev.Step == "Reserve" && strings.Contains(ev.Error, `provider "billing", handler "Reserve": `+errAddressNotAllowed.Error()) {
			refused++
		}
		if strings.Contains(ev.Error, "0.0.0.0") || strings.Contains(ev.Error, port) {
			t.Errorf("the history names an address: %q", ev.Error)
		}
	}
	if n := reached.Load(); n != 0 || refused != 1 || st.State == runtime.StateDone {
		t.Errorf("provider reached %d times, %d attempts refused (want 0 and 1: permanent), run %s; history %+v", n, refused, st.State, h)
	}
}

// checkConn: an IP address is itself; localhost leads to loopback only,
// whatever list names it; a name the operator listed leads where its DNS
// says; a host or port the list does not admit is refused whatever the
// address.
func TestProviderAllowCheckConn(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		host  string
		port  int
		ip    string
		ok    bool
	}{
		{nil, "localhost", 9000, "127.0.0.1", true},
		{nil, "LOCALHOST", 9000, "::1", true},
		{nil, "localhost", 9000, "::ffff:127.0.0.1", true},
		{nil, "localhost", 9000, "0.0.0.0", false},
		{nil, "localhost", 9000, "192.0.2.7", false},
		{nil, "127.0.0.1", 9000, "127.0.0.1", true},
		{nil, "billing.internal", 9000, "127.0.0.1", false},
		{[]string{"localhost"}, "localhost", 9000, "10.0.0.7", false},
		{[]string{"localhost"}, "localhost", 9000, "127.0.0.1", true},
		{[]string{"billing.internal"}, "billing.internal", 9000, "10.0.0.7", true},
		{[]string{"billing.internal"}, "other.internal", 9000, "10.0.0.7", false},
		{[]string{"10.0.0.7:9000"}, "10.0.0.7", 9000, "10.0.0.7", true},
		{[]string{"10.0.0.7:9000"}, "10.0.0.7", 9001, "10.0.0.7", false},
		{[]string{"https://billing.internal/flowgen/"}, "billing.internal", 443, "10.0.0.7", true},
		{[]string{"https://billing.internal/flowgen/"}, "billing.internal", 8443, "10.0.0.7", false},
	} {
		al, err := parseAllowList(tc.allow)
		if err != nil {
			t.Fatal(err)
		}
		err = al.checkConn(tc.host, tc.port, netip.MustParseAddr(tc.ip))
		if (err == nil) != tc.ok {
			t.Errorf("allow %q: %s:%d at %s: %v, want ok %v", tc.allow, tc.host, tc.port, tc.ip, err, tc.ok)
		}
	}
}
