package main

// User is the payload of the users events.
type User struct {
	Name          string `json:"name"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// ActionsState is the state of an Actions run.
type ActionsState struct {
	UserID    string
	User      User
	Lock      string
	Choice    string // Decide's outcome
	Undecided bool
}
