package runtime

import (
	"errors"
	"fmt"
	"time"
)

// The times a history records.
//
// A Wait's times (a sleep's Until, a deadline) are recorded as JSON, in
// RFC 3339, which has the years 0 to 9999 only: encoding/json refuses any
// other time. A deadline is the step's entry plus a time.Duration, so it
// is in range; a sleep's Until comes from the run's state
// (NewSleepUntil) and may be any time. Step.NewWait records no wake-up
// time for one out of range, and the step ends with the outcome "error"
// (Step.SleepError), as for the zero time. A durable sink refuses a Wait
// that Wait.Recordable refuses (package store: ErrInvalidEvent): the
// same rule, so that a run never reaches such a refusal by a sleep.

// ErrTimeRange marks a time that a history cannot record.
var ErrTimeRange = errors.New("runtime: time outside the years 0 to 9999 a history records")

// RecordableTime returns nil for a time a history can record, and an
// error wrapping ErrTimeRange, naming t, for any other.
func RecordableTime(t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 { // what time.Time.MarshalJSON checks
		return fmt.Errorf("%w: %s", ErrTimeRange, t.Format(time.RFC3339Nano))
	}
	return nil
}

// Recordable returns nil for a wait whose times a history can record (see
// RecordableTime), and the error of the first that it cannot.
func (w *Wait) Recordable() error {
	if err := RecordableTime(w.Until); err != nil {
		return fmt.Errorf("until: %w", err)
	}
	if err := RecordableTime(w.Deadline); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	return nil
}
