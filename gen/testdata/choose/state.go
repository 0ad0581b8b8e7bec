package main

import "time"

// Zone is a delivery zone.
type Zone string

// Remote is the zone no express parcel goes to.
const Remote Zone = "remote"

// RouteState is the state of a Route run.
type RouteState struct {
	Tier     string
	Total    int
	Express  bool
	Weight   float64
	Zone     Zone
	Age      time.Duration
	Attempts int8
	Priced   bool
	Went     string
}
