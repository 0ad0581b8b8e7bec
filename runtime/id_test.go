package runtime_test

import (
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

func TestNewIDUniqueAndRecognised(t *testing.T) {
	const workers, each = 8, 1000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], runtime.NewID())
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("NewID gave %q twice", id)
			}
			seen[id] = true
			if !runtime.IsNewID(id) {
				t.Fatalf("IsNewID(%q) = false for an ID of NewID", id)
			}
		}
	}
}

func TestIsNewID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"0123456789abcdef-1", true},
		{"0123456789abcdef-18446744073709551615", true},
		{"0123456789abcdef-", false},      // no counter
		{"0123456789abcdef", false},       // no separator
		{"0123456789abcde-1", false},      // a prefix one digit short
		{"0123456789abcdef0-1", false},    // one digit long
		{"0123456789ABCDEF-1", false},     // upper case: not what NewID writes
		{"0123456789abcdeg-1", false},     // not hex
		{"0123456789abcdef-1a", false},    // a counter that is not decimal
		{"0123456789abcdef-1-2", false},   // two separators
		{"01234567-1", false},             // the former runtime prefix's length
		{"order-0123456789abcdef", false}, // the parts the other way round
		{"", false},
	} {
		if got := runtime.IsNewID(tc.id); got != tc.want {
			t.Errorf("IsNewID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
