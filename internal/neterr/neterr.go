// Package neterr says what went wrong in a network error without the
// addresses its text holds: the error a step records goes into its run's
// history, which every client of an engine reads, and the addresses inside
// the operator's network are not theirs to see. engine/httpcall (rpc
// steps) and the engine's calls of remote providers both use it.
package neterr

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
)

// MaxResponseHeaderBytes bounds the headers of an answer to either HTTP
// client (httpcall's, of rpc steps, and the engine's, of remote
// providers), as serve's -max-header-bytes bounds a request's: an answer's
// headers say nothing either reads, and Go's default is 10 MiB held in
// memory for each answer being read. Beyond it the request fails as when
// the connection breaks (retryable).
const MaxResponseHeaderBytes = 64 << 10

// Describe says what went wrong in the error of an HTTP request that got
// no answer, from its kind alone: the texts of url.Error, net.OpError and
// net.DNSError hold the URL, the addresses and the host name, and those
// of x509's errors the certificate's names.
func Describe(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var parse *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "the service's host name is not known"
		}
		return "looking up the service's host name failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	case errors.As(err, &cert):
		return "the service's TLS certificate is not valid"
	case errors.As(err, &record):
		return "the service does not answer in TLS"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &parse) && parse.Op == "parse":
		return "the service's URL does not parse"
	}
	return "request failed (the server's log has the cause)"
}

// CutShort says what went wrong in err, the error of reading the body of
// an answer whose status and headers came (read bytes of it read, and
// length the bytes its Content-Length announced, -1 for none), when the
// connection closed before the body's end: Describe's "connection closed
// before the answer" would say that no answer began. ok is false for
// another error, which Describe says.
func CutShort(err error, read int, length int64) (what string, ok bool) {
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", false
	}
	if length >= 0 {
		return fmt.Sprintf("the connection closed after %d of its %d bytes", read, length), true
	}
	return fmt.Sprintf("the connection closed after %d bytes", read), true
}

// Unreachable says whether err, the error of an HTTP request that got no
// answer, shows that no server listens there any more: the connection
// was refused, or reset or closed before the answer began, or the host
// or its network is unreachable. A timeout is not one: a slow server is
// there. The engine passes over a provider replica so (remotecall.go).
func Unreachable(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
