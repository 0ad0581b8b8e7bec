package main

// Item is one line of an order: the request of inventory's Stock.Reserve
// is the order's items.
type Item struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Card is the request of payments' Card.Authorize.
type Card struct {
	Number string `json:"number"`
	Amount int    `json:"amount"` // euros
}

// Authorization is what payments holds on a card, until it is captured or
// voided.
type Authorization struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

// Contact is who the order is for.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Booking is a concierge's appointment with the customer.
type Booking struct {
	ID        string `json:"id"`
	Concierge string `json:"concierge"`
}

// ConciergeVisit is the state of flows Visit and CancelVisit: who the
// concierge visits, and the booking.
type ConciergeVisit struct {
	Contact Contact `json:"contact"`
	Booking Booking `json:"booking"`
}

// Parcel is what shipping carries.
type Parcel struct {
	Address string  `json:"address"`
	Kilos   float64 `json:"kilos"`
}

// OrderState is the data of one Order run. The order fills the first
// block; the steps write the second.
type OrderState struct {
	Items   []Item
	Card    Card
	Contact Contact
	Parcel  Parcel
	Tier    string // "gold", "silver", ...
	Total   int    // euros
	Express bool

	Reservation   string
	Authorization Authorization
	Visit         ConciergeVisit // the order's Contact, and the booking the child run made
	Tracking      string
}
