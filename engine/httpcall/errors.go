package httpcall

// The errors of calls that got no answer: they name the service and the
// endpoint, never the service's address.

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// CallError is the error of a call that got no answer from the service:
// it could not connect, the connection broke or timed out, a redirect led
// to another host, or the endpoint's URL would leave the service's base
// URL. Its text names the service, the endpoint and what went wrong,
// never the service's address: an rpc step's error is recorded in its
// run's history, which every client of an engine may read (GET
// /runs/{id}/history), and the addresses inside the operator's network are
// not theirs to see. The Caller logs the whole error, URL and addresses
// included (WithLogger).
type CallError struct {
	Service, Endpoint string
	// What says what went wrong, without an address: "connection
	// refused", "timeout", ...
	What string
	// Err is the whole error, address included: for the operator's log.
	// Unwrap returns it, so errors.Is finds ErrRedirect, ErrEndpoint or
	// syscall.ECONNREFUSED in a CallError.
	Err error
}

func (e *CallError) Error() string { return e.Service + " " + e.Endpoint + ": " + e.What }

func (e *CallError) Unwrap() error { return e.Err }

// failed is the one place a call's error that may hold the service's
// address becomes the error the step records: a CallError saying what
// went wrong, doing what (or ""), while the log gets err whole.
func (c *Caller) failed(ctx context.Context, service, endpoint, doing string, err error) *CallError {
	c.log.WarnContext(ctx, "rpc call failed", "service", service, "endpoint", endpoint, "error", err)
	w := Describe(err)
	if doing != "" {
		w = doing + ": " + w
	}
	return &CallError{Service: service, Endpoint: endpoint, What: w, Err: err}
}

// Describe says what went wrong in the error of an HTTP request that got
// no answer, from its kind alone: the texts of url.Error, net.OpError and
// net.DNSError hold the URL, the addresses and the host name, and those
// of x509's errors the certificate's names. The engine's calls of remote
// providers describe their errors with it too.
func Describe(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var parse *url.Error
	var ne net.Error
	switch {
	case errors.Is(err, ErrRedirect):
		return sentinelText(ErrRedirect)
	case errors.Is(err, ErrEndpoint):
		return sentinelText(ErrEndpoint)
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

// sentinelText is a sentinel error's text without the package's prefix.
func sentinelText(err error) string { return strings.TrimPrefix(err.Error(), "httpcall: ") }
