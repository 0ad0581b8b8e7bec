// Package bearer reads the bearer token of an HTTP request, for the
// engine's API tokens and for the call credential that remote providers
// check (engine/provider): one reading of the header for both.
package bearer

import (
	"errors"
	"net/http"
	"strings"
)

// Token returns the token of an "Authorization: Bearer TOKEN" header (the
// scheme in any case, RFC 9110); ok is false without one, and with more
// than one Authorization header: the field is not a list (RFC 9110 5.3),
// and a proxy that reads the last one while the server reads the first
// would check one credential and let the other through.
func Token(r *http.Request) (token string, ok bool) {
	if len(r.Header.Values("Authorization")) > 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// ErrNotPrintable is Check's error: a token may hold only printable ASCII
// without spaces (RFC 6750's b64token is narrower still), so that it goes
// in a header as it is. A line break is the usual culprit: two tokens of
// one role in a token file, read by awk as one value.
var ErrNotPrintable = errors.New("the token has a character that is not printable ASCII")

// Check returns ErrNotPrintable for a token with a byte that is not
// printable ASCII (a space, a line break, a control or non-ASCII byte):
// the rule of the engine's token file, and of the token a provider sends,
// which net/http would refuse to send at every attempt.
func Check(token string) error {
	for _, c := range []byte(token) {
		if c < 0x21 || c > 0x7e {
			return ErrNotPrintable
		}
	}
	return nil
}
