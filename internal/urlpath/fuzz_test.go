package urlpath

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzWithin: a URL that Within takes (a remote provider's callback URL,
// an rpc endpoint) stays under its base however a server reads the path
// the client sends (url.URL.EscapedPath): decoded once or twice, with a
// backslash as a separator (IIS) or each segment's ";params" dropped
// (Tomcat, Jetty), then cleaned; on the base's host and port. Below is
// Within and not the base's own directory.
//
//	go test ./internal/urlpath -run '^$' -fuzz FuzzWithin -fuzztime 5m
func FuzzWithin(f *testing.F) {
	for _, s := range []string{
		"http://svc/api/v1/charge", "http://svc/api/../admin", "http://svc/api/%2e%2e/admin",
		"http://svc/api%2F..%2Fadmin", "http://svc/api/..;/admin", "http://svc/api/..%3b/admin",
		"http://svc/api/..%5cadmin", "http://svc/api/%252e%252e/admin", "http://svc/api/x;v=1/y",
		"https://svc:443/api/x", "http://[::1]:80/api/x", "http://svc:0080/api/x",
	} {
		f.Add(s, "http://svc/api")
	}
	f.Fuzz(func(t *testing.T, us, bs string) {
		u, err1 := url.Parse(us)
		base, err2 := url.Parse(bs)
		if err1 != nil || err2 != nil {
			return
		}
		within, below := Within(u, base), Below(u, base)
		if below && !within {
			t.Fatalf("Below(%q, %q) but not Within", us, bs)
		}
		if !within {
			return
		}
		pu, _ := Port(u)
		pb, _ := Port(base)
		if u.Scheme != base.Scheme || !SameHost(u.Hostname(), base.Hostname()) || pu != pb {
			t.Fatalf("Within(%q, %q) on another origin", us, bs)
		}
		sent := u.EscapedPath()
		readings := []func(string) string{
			func(p string) string { return p },
			func(p string) string { return strings.ReplaceAll(p, `\`, "/") },
			dropParams,
		}
		for i, p := 0, sent; i < 2; i++ {
			d, err := url.PathUnescape(p)
			if err != nil {
				break
			}
			p = d
			for _, read := range readings {
				if got, dir := Dir(read(p)), Dir(read(base.Path)); !strings.HasPrefix(got, dir) {
					t.Fatalf("Within(%q, %q), but a server reads the path %q sent as %s, outside %s", us, bs, sent, path.Clean("/"+read(p)), dir)
				}
			}
		}
	})
}

// dropParams is p without each segment's ";params".
func dropParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}
