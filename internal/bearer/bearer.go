// Package bearer reads the bearer token of an HTTP request, for the
// engine's API tokens and for the call credential that remote providers
// check (engine/provider): one reading of the header for both.
package bearer

import (
	"net/http"
	"strings"
)

// Token returns the token of an "Authorization: Bearer TOKEN" header (the
// scheme in any case, RFC 9110); ok is false without one.
func Token(r *http.Request) (token string, ok bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
