package main

import stdtime "time"

// ImportsState is the state of an Imports run.
type ImportsState struct {
	At   stdtime.Time
	Seen stdtime.Time
	Done bool
}

// Declarations named like the packages the generated file imports: Go
// forbids a name in both a file's imports and its package.
var time = "not the time package"

func runtime() string { return "not the runtime package" }

type context struct{ name string }
