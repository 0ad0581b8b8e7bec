package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/flowgen/flowgen/internal/urlpath"
)

// The allow-list of HTTP providers' callback URLs (ProviderOptions.Allow,
// flowgen serve -provider-allow): registering a provider must not make the
// engine send run state, or anything, to an address the operator did not
// choose. An entry is a URL prefix or a host; no entry means loopback only.

// portRule is what a port of a callback URL or an entry may be (url.Parse
// takes any digits).
const portRule = "a port is a number from 1 to 65535"

// allowList is a parsed ProviderOptions.Allow.
type allowList struct {
	prefixes []*url.URL // a URL is allowed urlpath.Within one
	hosts    []allowHost
}

// allowHost is a host entry: a host name or IP (lower case, an IPv6 one
// without brackets, as url.URL.Hostname gives it) and its port, 0 for any
// port.
type allowHost struct {
	host string
	port int
}

// parseAllowHost reads "host", "host:port", "[v6]" or "[v6]:port".
func parseAllowHost(e string) (allowHost, bool) {
	if h, p, err := net.SplitHostPort(e); err == nil {
		port, ok := urlpath.ParsePort(p)
		return allowHost{strings.ToLower(h), port}, h != "" && ok
	}
	h := e
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return allowHost{strings.ToLower(h), 0}, h != "" && !strings.ContainsAny(h, "[]")
}

// CheckProviderAllow reports the first entry of a provider allow-list
// (ProviderOptions.Allow) that New would refuse, so that a command can
// refuse it as a bad flag before it opens anything.
func CheckProviderAllow(entries []string) error {
	_, err := parseAllowList(entries)
	return err
}

func parseAllowList(entries []string) (allowList, error) {
	var al allowList
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			return al, fmt.Errorf("engine: empty provider allow-list entry")
		}
		if strings.Contains(e, "://") {
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return al, fmt.Errorf("engine: provider allow-list entry %q: want an http(s) URL prefix without user, query or fragment, or a host", e)
			}
			if _, ok := urlpath.Port(u); !ok {
				return al, fmt.Errorf("engine: provider allow-list entry %q: %s", e, portRule)
			}
			if !hostName(u.Hostname()) {
				return al, fmt.Errorf("engine: provider allow-list entry %q: %s", e, hostRule)
			}
			if urlpath.Ambiguous(u.Path) {
				// urlpath.Within puts nothing under it: an entry that would
				// allow nothing is refused where it is given.
				return al, fmt.Errorf("engine: provider allow-list entry %q: its path has a backslash or a segment \"..;\" or \".;\", which servers read differently, so no URL is under it", e)
			}
			al.prefixes = append(al.prefixes, u)
			continue
		}
		if _, err := netip.ParsePrefix(e); err == nil {
			// A range, which the host rule names, not a malformed entry.
			return al, fmt.Errorf("engine: provider allow-list entry %q: %s", e, hostRule)
		}
		h, ok := parseAllowHost(e)
		if !ok || strings.ContainsAny(e, "/?#@ ") {
			return al, fmt.Errorf("engine: provider allow-list entry %q: want a host, host:port or an http(s) URL prefix (%s)", e, portRule)
		}
		if !hostName(h.host) {
			return al, fmt.Errorf("engine: provider allow-list entry %q: %s", e, hostRule)
		}
		al.hosts = append(al.hosts, h)
	}
	return al, nil
}

// hostRule is what the host of an allow-list entry may be: hostName.
const hostRule = "the host is not a host name or an IP address: an entry names one host exactly (no wildcard such as *.internal, no range such as 10.0.0.0/8; list each host, or give a URL prefix)"

// hostName reports whether h (without brackets or port) names one host: an
// IP address, or a DNS name of letters, digits, '-', '_' and '.'. A
// callback URL's host is compared with it exactly, so an entry such as
// "*.internal" would allow nothing.
func hostName(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return h != ""
}

// IsLoopbackHost reports whether host (without a port) names this machine
// only: "localhost" or a loopback IP. Any other name may resolve to
// anything.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// check refuses a callback URL the list does not allow, quoted bounded
// (quoteParam): it is a registration's, up to the body's size.
func (al allowList) check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("url %s is not an http(s) URL without user or fragment", quoteParam(raw))
	}
	port, ok := urlpath.Port(u)
	if !ok {
		return fmt.Errorf("url %s: %s", quoteParam(raw), portRule)
	}
	if al.allows(u.Hostname(), port, u) {
		return nil
	}
	if len(al.prefixes) == 0 && len(al.hosts) == 0 {
		return fmt.Errorf("url %s is not on loopback, and the server allows no other callback address (flowgen serve -provider-allow HOST or URL prefix)", quoteParam(raw))
	}
	return fmt.Errorf("url %s is not allowed by the server's provider allow-list (flowgen serve -provider-allow)", quoteParam(raw))
}

// allows is the list's one rule of where the engine may connect: to host
// (a name or an IP address, without brackets, as url.URL.Hostname gives
// it) at port, and for a URL prefix entry to a URL u under it. u is nil
// when the engine connects (checkConn), which knows the address alone:
// the registration checked the URL's scheme and path, and the engine
// follows no redirect.
func (al allowList) allows(host string, port int, u *url.URL) bool {
	if len(al.prefixes) == 0 && len(al.hosts) == 0 {
		return IsLoopbackHost(host)
	}
	for _, h := range al.hosts {
		if urlpath.SameHost(h.host, host) && (h.port == 0 || h.port == port) {
			return true
		}
	}
	for _, p := range al.prefixes {
		if u != nil {
			if urlpath.Within(u, p) {
				return true
			}
			continue
		}
		if pp, _ := urlpath.Port(p); urlpath.SameHost(p.Hostname(), host) && pp == port {
			return true
		}
	}
	return false
}

// errAddressNotAllowed: the engine did not connect to a callback URL,
// since the address its host resolved to is not one the allow-list
// admits. Its text goes into the run's history: it names no address.
var errAddressNotAllowed = errors.New("the address the callback URL's host resolved to is not allowed by the server's provider allow-list")

// checkConn refuses to connect to ip, the address that host resolved to,
// for a callback URL of host at port: the registration checked the name,
// and DNS (or /etc/hosts) says where it leads only when the engine
// connects, and may say something else by then. An IP address is itself.
// localhost stands for this machine (IsLoopbackHost), so it must lead to
// a loopback address: a lookup that sends it elsewhere (no localhost line
// in /etc/hosts, and a DNS server that answers for it) is refused. A
// name the operator listed leads wherever its DNS says: the operator
// chose the name, and its DNS is theirs (list IP addresses instead to
// hold the engine to them).
func (al allowList) checkConn(host string, port int, ip netip.Addr) error {
	if !al.allows(host, port, nil) || IsLoopbackHost(host) && !IsLoopbackHost(ip.WithZone("").String()) {
		return fmt.Errorf("%w: %s resolved to %s", errAddressNotAllowed, host, ip)
	}
	return nil
}
