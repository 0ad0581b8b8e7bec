package main

// OrderState is the order's data; the invoice goes to the billing flow and
// comes back as the receipt.
type OrderState struct {
	Invoice  Invoice `json:"invoice"`
	Receipt  Invoice `json:"receipt"`
	Reserved bool    `json:"reserved,omitempty"`
	FailShip bool    `json:"fail_ship,omitempty"`
	Shipped  bool    `json:"shipped,omitempty"`
	Refunded bool    `json:"refunded,omitempty"`
	Scenario string  `json:"scenario,omitempty"`
}

// Invoice is the state of the billing and refund flows.
type Invoice struct {
	Amount   int    `json:"amount"`
	Charge   string `json:"charge,omitempty"`
	Paid     bool   `json:"paid,omitempty"`
	Refunded bool   `json:"refunded,omitempty"`
}
