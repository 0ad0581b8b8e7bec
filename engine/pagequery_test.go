package engine

import (
	"strings"
	"testing"
)

// The lists that page with a cursor (GET /runs, GET /runs/{id}/children,
// GET /deadletters) read ?limit=, ?order= and ?cursor= by one rule
// (pageParams): each refuses the same values with the same 400. GET /runs
// answers a refused order before a refused limit, as it always has (its
// order is read with its filters, moreFilters).
func TestPagedListsReadTheirQueryAlike(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	for _, route := range []string{"/runs", "/runs/ann/children", "/deadletters"} {
		for _, tc := range []struct{ query, says string }{
			{"limit=0", `limit "0": want a number from 1 to 1000`},
			{"limit=1001", `limit "1001": want a number from 1 to 1000`},
			{"limit=ten", `limit "ten": want a number from 1 to 1000`},
			{"order=sideways", `order "sideways": want newest or oldest`},
			{"order=olderst", `order "olderst": want newest or oldest; did you mean "oldest"?`},
			{"cursor=bogus", `cursor "bogus" is not one that GET `},
			{"limit=5&order=newest&cursor=" + childrenCursor.encode("x") + "x", `is not one that GET `},
		} {
			status, out := c.do("GET", route+"?"+tc.query, "")
			if status != 400 || !strings.Contains(mustString(t, out), tc.says) {
				t.Errorf("GET %s?%s: %d %v, want 400 saying %q", route, tc.query, status, out, tc.says)
			}
		}
	}
	for query, says := range map[string]string{
		"limit=0&order=sideways":           "want newest or oldest",
		"since=yesterday&limit=0":          "RFC 3339",
		"limit=0&cursor=bogus":             "want a number from 1 to 1000",
		"status=gone&order=sideways":       "unknown status",
		"order=sideways&since=yesterday":   "want newest or oldest",
		"cursor=bogus&until=yesterday&x=1": "unknown parameter",
	} {
		status, out := c.do("GET", "/runs?"+query, "")
		if status != 400 || !strings.Contains(mustString(t, out), says) {
			t.Errorf("GET /runs?%s: %d %v, want 400 saying %q", query, status, out, says)
		}
	}
}
