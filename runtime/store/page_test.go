package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/google/go-cmp/cmp"
)

type pager interface {
	sink
	LoadPage(runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error)
}

// A page of a history holds the events after a seq, at most limit of
// them and, past its first, at most maxBytes of states, payloads and
// errors; more says whether it left events out. The store reads the page
// from its log, memory cuts it from the slice, and Page from a history
// read whole: the three answer alike.
func TestLoadPage(t *testing.T) {
	h := history("r", "f", compensatedRun...) // 5 events, states {"n":0}.. of 7 bytes, one error "boom"
	for name, s := range map[string]pager{"store": openStore(t, t.TempDir()), "memory": NewMemory()} {
		emitAll(t, s, h)
		seqs := func(evs []runtime.Event) string {
			var b strings.Builder
			for _, e := range evs {
				fmt.Fprintf(&b, "%d ", e.Seq)
			}
			return strings.TrimSpace(b.String())
		}
		for _, c := range []struct {
			after           uint64
			limit, maxBytes int
			want            string
			more            bool
		}{
			{0, 100, 1 << 20, "1 2 3 4 5", false},
			{0, 2, 1 << 20, "1 2", true},
			{2, 2, 1 << 20, "3 4", true},
			{4, 2, 1 << 20, "5", false},
			{5, 2, 1 << 20, "", false},     // the end: nothing more yet
			{99, 2, 1 << 20, "", false},    // past it: the run has not recorded it
			{0, 100, 14, "1 2", true},      // 7+7 bytes fit, the third does not
			{0, 100, 1, "1", true},         // the first event goes whatever its size
			{2, 100, 7 + 4 + 6, "3", true}, // seq 3: {"n":2} and "boom", 11 bytes; seq 4 would make 18
		} {
			got, more, err := s.LoadPage("r", c.after, c.limit, c.maxBytes, true)
			if err != nil || seqs(got) != c.want || more != c.more {
				t.Errorf("%s: LoadPage(after %d, limit %d, bytes %d) = %q, more %v, %v; want %q, more %v", name, c.after, c.limit, c.maxBytes, seqs(got), more, err, c.want, c.more)
			}
			whole, _ := s.Load("r")
			pg, pmore, _ := Page(whole, c.after, c.limit, c.maxBytes, true)
			if diff := cmp.Diff(got, pg); diff != "" || pmore != more {
				t.Errorf("%s: Page differs from LoadPage (more %v, %v): %s", name, pmore, more, diff)
			}
		}
		if got, _, _ := s.LoadPage("r", 1, 1, 1<<20, true); len(got) != 1 || cmp.Diff(got[0], h[1]) != "" {
			t.Errorf("%s: the page's event is not the one recorded: %+v", name, got)
		}
		if _, _, err := s.LoadPage("nope", 0, 10, 1<<20, true); !errors.Is(err, runtime.ErrUnknownRun) {
			t.Errorf("%s: LoadPage of an unknown run: %v", name, err)
		}
	}
}

// A page without states holds the events without their State, which then
// weighs nothing against maxBytes: only what the page holds is counted,
// its errors (and payloads) still are. The store, memory and Page answer
// alike, and the history kept is left whole.
func TestLoadPageWithoutStates(t *testing.T) {
	h := history("r", "f", compensatedRun...) // 5 events, states of 7 bytes, seq 3's error "boom"
	for name, s := range map[string]pager{"store": openStore(t, t.TempDir()), "memory": NewMemory()} {
		emitAll(t, s, h)
		for _, c := range []struct {
			after    uint64
			maxBytes int
			want     int
			more     bool
		}{
			{0, 1 << 20, 5, false},
			{0, 0, 2, true}, // seqs 1 and 2 weigh nothing; seq 3's error does
			{0, 4, 5, false},
			{3, 0, 2, false},
		} {
			got, more, err := s.LoadPage("r", c.after, 100, c.maxBytes, false)
			if err != nil || len(got) != c.want || more != c.more {
				t.Errorf("%s: LoadPage(after %d, bytes %d, no states) = %d events, more %v, %v; want %d, more %v", name, c.after, c.maxBytes, len(got), more, err, c.want, c.more)
			}
			for _, e := range got {
				if e.State != nil {
					t.Errorf("%s: event %d of a page without states holds %s", name, e.Seq, e.State)
				}
			}
			whole, _ := s.Load("r")
			pg, pmore, _ := Page(whole, c.after, 100, c.maxBytes, false)
			if diff := cmp.Diff(got, pg); diff != "" || pmore != more {
				t.Errorf("%s: Page differs from LoadPage (more %v, %v): %s", name, pmore, more, diff)
			}
		}
		if whole, _ := s.Load("r"); cmp.Diff(whole, h) != "" {
			t.Errorf("%s: a page without states changed the history kept", name)
		}
	}
}
