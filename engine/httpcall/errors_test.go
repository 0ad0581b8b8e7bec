package httpcall

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A call's error names the service and the endpoint and says what went
// wrong, never the service's address (a client reads it in the run's
// history); the log has the address. The kinds keep what a retry policy
// and errors.Is read: a refused connection is retryable, a redirect to
// another host permanent.
func TestCallErrorsNameNoAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/base/Away":
			http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
		case "/base/Hangup": // the connection closes before an answer
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

// what says what went wrong from the error's kind: the texts of the
// errors it reads hold the URL, the addresses, the host and resolver
// names, and never come out.
func TestWhatHoldsNoAddress(t *testing.T) {
	post := func(err error) error {
		return &url.Error{Op: "Post", URL: "http://10.1.2.3:8080/rpc/Create", Err: err}
	}
	dial := func(err error) error {
		return post(&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8080}, Err: err})
	}
	cert := &tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"customers.internal"}}, Host: "10.1.2.3"}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), "connection refused"},
		{dial(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}), "connection reset"},
		{dial(&net.DNSError{Err: "no such host", Name: "customers.internal", Server: "10.255.255.53:53", IsNotFound: true}), "the service's host name is not known"},
		{dial(&net.DNSError{Err: "i/o timeout", Name: "customers.internal", Server: "10.255.255.53:53", IsTimeout: true}), "looking up the service's host name failed"},
		{post(io.EOF), "connection closed before the answer"},
		{post(cert), "the service's TLS certificate is not valid"},
		{post(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "the service does not answer in TLS"},
		{dial(os.ErrDeadlineExceeded), "timeout"},
		{&url.Error{Op: "parse", URL: "http://10.1.2.3:8080/%zz", Err: errors.New("invalid URL escape")}, "the service's URL does not parse"},
		{post(errors.New("something at 10.1.2.3:8080")), "request failed (the server's log has the cause)"},
	} {
		got := Describe(tc.err)
		if got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
		for _, secret := range []string{"10.1.2.3", "customers.internal", "10.255.255.53"} {
			if strings.Contains(got, secret) {
				t.Errorf("what(%v) = %q holds %s", tc.err, got, secret)
			}
		}
	}
}
