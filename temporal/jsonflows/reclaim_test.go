package jsonflows

import (
	"testing"
	"time"
)

// A wait that times out is taken back from its inbox (reclaim), which
// answers whether it signalled the wait an event received before its
// deadline (at the deadline itself the deadline wins, runtime.Wait.InTime),
// and answers the same when asked again (a retried local activity).
func TestReclaimAnswersTheEventHandedInTime(t *testing.T) {
	deadline := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		received  time.Time // of the event handed to the wait; zero for none
		signalled bool
	}{
		{"received before the deadline", deadline.Add(-time.Second), true},
		{"received at the deadline", deadline, false},
		{"received after it", deadline.Add(time.Second), false},
		{"nothing handed", time.Time{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := inboxWait{RunID: "r1", Key: "r1/Pay", Deadline: deadline}
			other := inboxWait{RunID: "r2", Key: "r2/Pay", Waiting: true, Deadline: deadline}
			st := inboxState{Handed: map[string]inboxHanded{}, Waiting: []inboxWait{other}}
			if c.received.IsZero() {
				st.Waiting = append(st.Waiting, inboxWait{RunID: "r1", Key: "r1/Pay", Waiting: true, Deadline: deadline})
			} else {
				st.Handed[w.Key] = inboxHanded{Received: c.received, Sum: "s1", At: c.received}
			}
			got := reclaim(&st, w)
			if got.Signalled != c.signalled || (got.Signalled && got.Sum != "s1") {
				t.Errorf("reclaim = %+v, want signalled %v", got, c.signalled)
			}
			if len(st.Waiting) != 1 || st.Waiting[0] != other {
				t.Errorf("after reclaim the inbox holds waits %v; want the other wait alone", st.Waiting)
			}
			if again := reclaim(&st, w); again != got {
				t.Errorf("a second reclaim = %+v, want %+v as the first", again, got)
			}
		})
	}
}
