// Package urlpath is the one home of the rules of URLs taken from outside:
// how one is shown in a log or an error (Shown), and "this URL stays under
// that base URL": an rpc endpoint under its service's base URL (engine/httpcall)
// and a provider's callback URL under an allow-listed prefix (engine). Both
// must not be left by "..", nor by its escaped forms, which a server or
// proxy may decode before it routes; and both are on the base's port,
// which the URL may name or leave to its scheme (Port).
package urlpath

import (
	"net/netip"
	"net/url"
	"path"
	"strconv"
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
// host (in any case) and port (Port: "https://h:443" is "https://h"), and
// a path whose Dir starts with base's, however a server reads it: decoded
// once (url.URL.Path) or twice ("%252e%252e" is ".." to a server that
// decodes again), and neither Ambiguous. Nothing is within a base whose
// own path is Ambiguous: "/api\x/.." is "/" to Dir but "/api/" to a
// server that reads a backslash as a separator, so no one reading says
// what is under it.
func Within(u, base *url.URL) bool {
	pu, oku := Port(u)
	pb, okb := Port(base)
	if u.Scheme != base.Scheme || !SameHost(u.Hostname(), base.Hostname()) || pu != pb || oku != okb || Ambiguous(base.Path) {
		return false
	}
	under := func(p string) bool { return !Ambiguous(p) && strings.HasPrefix(Dir(p), Dir(base.Path)) }
	twice, err := url.PathUnescape(u.Path)
	return under(u.Path) && (err != nil || under(twice))
}

// SameHost reports whether hosts a and b (without brackets or port, as
// url.URL.Hostname gives them) name one host: the same name but for case,
// or the same IP address however it is written ("fd00::7" and
// "FD00:0:0:0:0:0:0:7"; an IPv4-mapped IPv6 address is not the IPv4
// one, nor is "010.0.0.7", which is no IP address, "10.0.0.7").
func SameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	return errx == nil && erry == nil && x == y
}

// Ambiguous reports whether the decoded path p may lead a server or a
// proxy elsewhere than Dir reads it: it holds a backslash (a separator to
// IIS and to proxies that normalise it), or a segment that is "." or ".."
// before a ';' ("..;", which Tomcat and Jetty take for ".." with a path
// parameter), or nothing before it: Tomcat and Jetty drop ";v=1" and then
// the empty segment, so a ".." after it climbs one level more than Dir's
// ("/api/x/;/../../admin" is "/api/admin" to Dir, "/admin" to them).
func Ambiguous(p string) bool {
	if strings.Contains(p, `\`) {
		return true
	}
	for seg := range strings.SplitSeq(p, "/") {
		if name, _, params := strings.Cut(seg, ";"); params && (name == "" || name == "." || name == "..") {
			return true
		}
	}
	return false
}

// Port returns the port u connects to: its own, or its scheme's when it
// names none (80 for http, 443 for https). ok is false for a port outside
// 1-65535, which url.Parse lets through, or none with another scheme.
func Port(u *url.URL) (port int, ok bool) {
	if p := u.Port(); p != "" {
		return ParsePort(p)
	}
	switch u.Scheme {
	case "http":
		return 80, true
	case "https":
		return 443, true
	}
	return 0, false
}

// ParsePort reads a TCP port, decimal digits in 1-65535; ok is false
// otherwise.
func ParsePort(s string) (port int, ok bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && s[0] != '+' && s[0] != '-' && n >= 1 && n <= 65535
}

// Below reports whether u is under base and not base itself.
func Below(u, base *url.URL) bool {
	return Within(u, base) && Dir(u.Path) != Dir(base.Path)
}
