package engine

import (
	"strings"
	"testing"
)

// A range given as an allow-list entry is refused by the rule that names
// ranges (an entry is one host), as a wildcard is, not as a malformed
// host:port: it said "want a host, host:port or an http(s) URL prefix (a
// port is a number from 1 to 65535)", which the docs' own example of a
// range refused (10.0.0.0/8) did not explain.
func TestAllowListRangeRefusedAsRange(t *testing.T) {
	for _, entry := range []string{"10.0.0.0/8", "fd00::/8", "127.0.0.1/32"} {
		err := CheckProviderAllow([]string{entry})
		if err == nil || !strings.Contains(err.Error(), "no range such as 10.0.0.0/8") {
			t.Errorf("entry %q: %v, want the host rule, which names ranges", entry, err)
		}
	}
}
