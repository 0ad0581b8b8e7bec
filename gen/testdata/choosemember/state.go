package main

import "time"

// RouteState is the state of a Route run: the members its conditions read
// are in structs, by value (Order) and behind pointers (Customer,
// Shipping, Order.Lines).
type RouteState struct {
	Customer *Customer
	Order    Order
	Shipping *Shipping
	Went     string
}

// Customer embeds Account by pointer: Blocked is promoted through it.
type Customer struct {
	Tier string
	*Account
}

// Account is what Customer embeds.
type Account struct {
	Blocked bool
	Since   time.Duration
}

// Order is a value member of the state.
type Order struct {
	Total float64
	Lines *Lines
}

// Lines counts an order's lines.
type Lines struct {
	Count uint8
}

// Shipping says how an order ships.
type Shipping struct {
	Express bool
}
