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
