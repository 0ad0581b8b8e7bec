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
