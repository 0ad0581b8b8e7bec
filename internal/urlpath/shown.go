package urlpath

import (
	"net/url"
	"strings"
)

// Shown is a URL v as a log line or an error shows it: its password
// "xxxxx" (url.Redacted) and its query, which may hold a key, "?...". A
// value that does not parse as a URL, or parses as an opaque one
// ("http:ann:pw@host"), which url.Redacted shows whole, is cut as text:
// what comes before its last "@" is "xxxxx", after its first "?" "...".
// Its users: a traces endpoint in flowgen's usage errors (internal/otlp),
// a provider's callback URL in the engine's logs (a registration may give
// it a query, where a provider may put a key of its own).
func Shown(v string) string {
	if u, err := url.Parse(v); err == nil && u.Opaque == "" {
		c := *u
		if c.RawQuery != "" || c.ForceQuery {
			c.RawQuery, c.ForceQuery = "...", false
		}
		return c.Redacted()
	}
	if i := strings.IndexByte(v, '?'); i >= 0 {
		v = v[:i] + "?..."
	}
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		scheme := ""
		if j := strings.Index(v[:i], "://"); j >= 0 {
			scheme = v[:j+3]
		}
		v = scheme + "xxxxx" + v[i:]
	}
	return v
}
