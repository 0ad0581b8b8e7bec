package httpcall

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/flowgen/flowgen/internal/conntest"
	"github.com/flowgen/flowgen/runtime"
)

// A call's error names the service and the endpoint and says what went
// wrong, never the service's address (a client reads it in the run's
// history); the log has the address. The kinds keep what a retry policy
// and errors.Is read: a refused connection is retryable, a redirect to
// another host permanent.
func TestCallErrorsNameNoAddress(t *testing.T) {
	refused := conntest.ClosedPort(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/Away":
			http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
		case "/base/Hangup": // the connection closes before an answer
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "/base/Cut": // the answer begins, and its body is cut short
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"id`))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	}))
	defer srv.Close()
	up := strings.TrimPrefix(srv.URL, "http://")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, tc := range []struct {
		name      string
		c         *Caller
		endpoint  string
		want      string
		address   string // what the error must not hold, and the log must
		permanent bool
		is        error
	}{
		{"refused", New(Static{"customers": "http://" + refused + "/base"}, WithLogger(log)), "Create", "customers Create: connection refused", refused, false, syscall.ECONNREFUSED},
		{"closed", New(Static{"customers": srv.URL + "/base"}, WithLogger(log)), "Hangup", "customers Hangup: connection closed before the answer", up, false, io.EOF},
		// Not "closed before the answer": it began (neterr.CutShort, as
		// a provider's answer cut short is said). The body's read error
		// holds no address: the log names the service and endpoint.
		{"cut", New(Static{"customers": srv.URL + "/base"}, WithLogger(log)), "Cut", "customers Cut: reading the response: the connection closed after 4 of its 100 bytes", "", false, io.ErrUnexpectedEOF},
		{"redirect", New(Static{"customers": srv.URL + "/base"}, WithLogger(log)), "Away", "customers Away: redirect to another host refused", strings.TrimPrefix(other.URL, "http://"), true, ErrRedirect},
		{"outside", New(Static{"customers": srv.URL + "/base"}, WithLogger(log), WithPath(func(string) string { return "/../admin" })), "Create", "customers Create: endpoint outside the service's base URL", up, true, ErrEndpoint},
	} {
		logs.Reset()
		err := tc.c.Call(context.Background(), "customers", tc.endpoint, map[string]int{"a": 1}, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			continue
		}
		if runtime.IsPermanent(err) != tc.permanent || !errors.Is(err, tc.is) {
			t.Errorf("%s: %v: permanent %v, want %v; errors.Is %v: %v", tc.name, err, runtime.IsPermanent(err), tc.permanent, tc.is, errors.Is(err, tc.is))
		}
		if !strings.Contains(logs.String(), tc.address) || !strings.Contains(logs.String(), "rpc call failed") {
			t.Errorf("%s: the log lacks the address %s:\n%s", tc.name, tc.address, logs.String())
		}
	}
}
