package dsl

import (
	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/runtime"
)

// checkReservedTopics reports every topic of f that a flow may not use
// (runtime.ReservedTopic, code "reserved-topic"), where the file writes it:
// an await's, a trigger's or a publication's. The engine serves every wait
// on such a topic as a wait for a remote provider, so the flow would not
// do what it says.
func checkReservedTopics(f *File) diag.List {
	var ds diag.List
	eachName(f, func(at diag.Range, what, s string) {
		if what != "topic" {
			return
		}
		if msg := runtime.ReservedTopic(s); msg != "" {
			ds = append(ds, diag.Errorf(at, "reserved-topic", "%s", msg).
				WithHint("use a topic of your own; the engine ends a wait on this one when a provider registers, not on an event"))
		}
	})
	return ds
}
