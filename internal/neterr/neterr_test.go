package neterr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
)

// Describe says what went wrong from the error's kind: the texts of the
// errors it reads hold the URL, the addresses, the host and resolver
// names, and never come out.
func TestDescribeHoldsNoAddress(t *testing.T) {
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
				t.Errorf("Describe(%v) = %q holds %s", tc.err, got, secret)
			}
		}
	}
}

// Unreachable holds for the errors of a server that is gone (refused,
// reset, closed before the answer, no route), not for a slow one's
// timeout nor for other failures.
func TestUnreachable(t *testing.T) {
	post := func(err error) error {
		return &url.Error{Op: "Post", URL: "http://127.0.0.1:9/r", Err: err}
	}
	dial := func(err error) error {
		return post(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}})
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{dial(syscall.ECONNREFUSED), true},
		{dial(syscall.EHOSTUNREACH), true},
		{post(&net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}), true},
		{post(io.EOF), true},
		{post(io.ErrUnexpectedEOF), true},
		{post(os.ErrDeadlineExceeded), false},
		{post(&net.DNSError{Err: "no such host", Name: "billing.internal", IsNotFound: true}), false},
		{post(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
