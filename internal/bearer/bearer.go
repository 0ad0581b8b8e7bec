// Package bearer reads the bearer token of an HTTP request, for the
// engine's API tokens and for the call credential that remote providers
// check (engine/provider): one reading of the header for both.
package bearer

import (
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
