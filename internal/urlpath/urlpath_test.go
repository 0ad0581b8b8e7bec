package urlpath

import (
	"net/url"
	"testing"
)

func TestWithinAndBelow(t *testing.T) {
	for _, tc := range []struct {
		u, base       string
		within, below bool
	}{
		{"http://svc/api/v1/charge", "http://svc/api", true, true},
		{"http://svc/api", "http://svc/api/", true, false},
		{"http://SVC/api/x", "http://svc/api", true, true},
		{"http://svc/apix", "http://svc/api", false, false},         // a sibling sharing a prefix
		{"http://svc/api/../admin", "http://svc/api", false, false}, // left by ..
		{"http://svc/api/%2e%2e/admin", "http://svc/api", false, false},
		{"http://svc/api%2F..%2Fadmin", "http://svc/api", false, false},
		{"https://svc/api/x", "http://svc/api", false, false},
		{"http://svc:81/api/x", "http://svc/api", false, false},
		{"http://other/api/x", "http://svc/api", false, false},
		{"http://svc/anything", "http://svc", true, true},
		{"http://svc/a/./b", "http://svc/a/b", true, false},
		// A port left to the scheme is the scheme's: the same origin.
		{"https://svc:443/api/x", "https://svc/api", true, true},
		{"http://svc/api/x", "http://svc:80/api", true, true},
		{"https://svc:80/api/x", "https://svc/api", false, false},
		{"http://[::1]:80/api/x", "http://[::1]/api", true, true},
		// Paths that some server reads as leaving the base: "..;" (Tomcat,
		// Jetty), a backslash (IIS, normalising proxies), an escape that a
		// server decoding twice decodes again.
		{"http://svc/api/..;/admin", "http://svc/api", false, false},
		{"http://svc/api/..%3b/admin", "http://svc/api", false, false},
		{"http://svc/api/.%2e;x/admin", "http://svc/api", false, false},
		{"http://svc/api/.;/x", "http://svc/api", false, false},
		{"http://svc/api/..%5cadmin", "http://svc/api", false, false},
		{`http://svc/api/..\admin`, "http://svc/api", false, false},
		{"http://svc/api/%252e%252e/admin", "http://svc/api", false, false},
		{"http://svc/api/x;v=1/y", "http://svc/api", true, true},           // a path parameter elsewhere is no step
		{"http://svc/api/x/;/../../admin", "http://svc/api", false, false}, // ";" is no segment to Tomcat, Jetty
		{"http://svc/api/x/;v=1/../../admin", "http://svc/api", false, false},
		{"http://svc/api/x/%3b/../../admin", "http://svc/api", false, false},
		{"http://svc/api/x..;/y", "http://svc/api", true, true},
		{"http://svc/api/50%25off", "http://svc/api", true, true}, // a '%' that decodes to nothing else
		{"http://svc/api/%252fx", "http://svc/api", true, true},   // "/x" under api twice decoded too
		{"http://svc/api/%255cx", "http://svc/api", false, false}, // a backslash twice decoded
		// A base that servers read differently has nothing under it.
		{"http://svc/0", `http://svc/00\0/..`, false, false},
		{"http://svc/api/x", `http://svc/api\x/..`, false, false},
		{"http://svc/api/x", "http://svc/api/..;/b", false, false},
	} {
		u, err := url.Parse(tc.u)
		if err != nil {
			t.Fatal(err)
		}
		base, err := url.Parse(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := Within(u, base); got != tc.within {
			t.Errorf("Within(%s, %s) = %v", tc.u, tc.base, got)
		}
		if got := Below(u, base); got != tc.below {
			t.Errorf("Below(%s, %s) = %v", tc.u, tc.base, got)
		}
	}
}

// Port: a URL's own port, else its scheme's; none outside 1-65535.
func TestPort(t *testing.T) {
	for raw, want := range map[string]int{
		"http://h/": 80, "https://h/": 443, "https://h:8443/": 8443, "http://h:0080/": 80, "http://h:65535/": 65535,
		"http://h:0/": -1, "http://h:65536/": -1, "http://h:99999/": -1, "ftp://h/": -1,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := Port(u)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("Port(%s) = %d, %v; want %d", raw, got, ok, want)
		}
	}
	for _, bad := range []string{"", "+80", "-1", "8o", "99999"} {
		if _, ok := ParsePort(bad); ok {
			t.Errorf("ParsePort(%q) ok", bad)
		}
	}
}
