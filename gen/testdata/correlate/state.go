package main

// Payment is the payload of payments/payment.succeeded: it names its order
// under "order_id".
type Payment struct {
	OrderID string `json:"order_id,omitempty"`
	Cents   int    `json:"cents"`
}

// Sent is the payload of shipping/parcel.sent: the order is under
// "parcel.order_id".
type Sent struct {
	Parcel Parcel `json:"parcel"`
}

// Parcel is what Sent carries.
type Parcel struct {
	OrderID string `json:"order_id,omitempty"`
	Carrier string `json:"carrier"`
}

// FulfilState is the state of a Fulfil run.
type FulfilState struct {
	OrderID string
	Payment Payment
	Sent    Sent
	Expired bool
}

// Invoice is the payload of payments/invoice.paid: it names its invoice
// by number.
type Invoice struct {
	Number int64 `json:"number"`
	Cents  int   `json:"cents"`
}

// TallyState is the state of a Tally run: it correlates on an integer.
type TallyState struct {
	Number  int64
	Invoice Invoice
}
