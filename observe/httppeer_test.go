package observe_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/observe"
)

// A request's span says which address was asked and who asked, as
// OpenTelemetry's conventions for HTTP servers recommend: server.address
// and server.port from the Host header (its scheme's port when it names
// none), client.address (the connection's peer), user_agent.original and
// network.protocol.version; the sender's text is cut as a path is.
func TestMiddlewarePeerAttributes(t *testing.T) {
	tel, exp, _ := traced(t)
	h := tel.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	long := strings.Repeat("u", 5000)
	for _, c := range []struct {
		host, remote, agent           string
		address, port, client, wantUA string
	}{
		{"flows.internal:8443", "10.0.0.7:51234", "curl/8.5.0", "flows.internal", "8443", "10.0.0.7", "curl/8.5.0"},
		{"flows.internal", "[2001:db8::1]:4000", "", "flows.internal", "80", "2001:db8::1", ""},
		{"[::1]:8080", "127.0.0.1:1", long, "::1", "8080", "127.0.0.1", long[:observe.MaxPathAttribute] + "..."},
	} {
		exp.Reset()
		r := httptest.NewRequest(http.MethodGet, "/runs", nil)
		r.Host, r.RemoteAddr = c.host, c.remote
		if c.agent != "" {
			r.Header.Set("User-Agent", c.agent)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%d spans, want 1", len(spans))
		}
		s := spans[0]
		for key, want := range map[string]string{
			"server.address": c.address, "server.port": c.port, "client.address": c.client,
			"user_agent.original": c.wantUA, "network.protocol.version": "1.1",
		} {
			if got := attr(s, key); got != want {
				t.Errorf("Host %s from %s: %s %.80q, want %.80q", c.host, c.remote, key, got, want)
			}
		}
	}
}
