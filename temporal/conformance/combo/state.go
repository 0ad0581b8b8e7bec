// Package combo is conformance's combo.flow generated for both targets:
// its test runs each script on the runtime form (NewComboFlow) and on the
// Temporal form (NewComboTemporal, a real server) and requires the same
// outcome; the conformance suite runs the same file's JSON form on both
// executors (TestCombinations).
package combo

import "time"

//go:generate go run -C ../../.. ./cmd/flowgen gen -target temporal temporal/conformance/combo/combo.flow

// ComboState is the data of one Combo run.
type ComboState struct {
	OrderID       string
	Item          string
	Amount        int
	Invoice       Invoice
	Receipt       Invoice
	Reservation   string
	Authorization string
	Approval      Approval
	SettleAt      time.Time
	Tracking      string
	// Undone is what the block's Go rollbacks appended, in their order.
	Undone []string
}

// Invoice is the state of Billing and Refund.
type Invoice struct {
	Amount   int
	ChargeID string
}

// Approval is the payload of approvals/decided: its order.id is the
// OrderID of the run it is for.
type Approval struct {
	Order struct {
		ID string `json:"id"`
	} `json:"order"`
	OK bool `json:"ok"`
}
