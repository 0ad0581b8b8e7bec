package main

import "time"

// RemindState is the state of a Remind run.
type RemindState struct {
	Contact   string
	OrderedAt time.Time
	// FollowUpAfter is how long after the order Remind sets FollowUpAt
	// (0: it sets nothing).
	FollowUpAfter time.Duration
	FollowUpAt    time.Time
	Reminded      bool
	GaveUp        bool
}
