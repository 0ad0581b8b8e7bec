// Package urlpath is the one home of the rule "this URL stays under that
// base URL": an rpc endpoint under its service's base URL (engine/httpcall)
// and a provider's callback URL under an allow-listed prefix (engine). Both
// must not be left by "..", nor by its escaped forms, which a server or
// proxy may decode before it routes.
package urlpath

import (
	"net/url"
	"path"
	"strings"
)

// Dir is p decoded (url.URL.Path), with its "." and ".." segments resolved
// and a final "/": "/a/b/../c" is "/a/c/", "" is "/".
func Dir(p string) string {
	out := path.Clean("/" + p)
	if !strings.HasSuffix(out, "/") {
		out += "/"
	}
	return out
}

// Within reports whether u is base or under it: the same scheme, the same
// host and port (in any case), and a path whose Dir starts with base's.
func Within(u, base *url.URL) bool {
	return u.Scheme == base.Scheme && strings.EqualFold(u.Host, base.Host) && strings.HasPrefix(Dir(u.Path), Dir(base.Path))
}

// Below reports whether u is under base and not base itself.
func Below(u, base *url.URL) bool {
	return Within(u, base) && Dir(u.Path) != Dir(base.Path)
}
