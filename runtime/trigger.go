package runtime

import "strings"

// Trigger is one way a flow starts, as a .flow file's `trigger` line
// declares it. It is the project's only trigger type: generated flows list
// theirs in a Triggers method, the engine registers and starts flows from
// these values (engine.Register, engine.RegisterFlow), and the compiler's
// model (dsl.Trigger) is this value plus where it was written. The runtime
// itself starts nothing from a Trigger; it only carries the declaration,
// so that generated code, which imports only runtime, can state it.
type Trigger struct {
	Kind     TriggerKind `json:"kind"`
	Endpoint string      `json:"endpoint,omitempty"` // rpc: `trigger rpc "<endpoint>"`
	Topic    string      `json:"topic,omitempty"`    // event: `trigger event <topic> "<event>"`
	Event    string      `json:"event,omitempty"`    // event
	Schedule string      `json:"schedule,omitempty"` // schedule: see ParseSchedule
}

// TriggerKind says what starts a flow: the word after `trigger` in a .flow
// file.
type TriggerKind string

// Trigger kinds.
const (
	TriggerRPC      TriggerKind = "rpc"
	TriggerEvent    TriggerKind = "event"
	TriggerSchedule TriggerKind = "schedule"
)

// EmptyFields returns the fields, by their JSON names, that t's kind needs
// and t leaves empty (white space counts as empty): an rpc trigger needs an
// endpoint, an event trigger a topic and an event. A schedule's spec is
// ParseSchedule's to check. The compiler's checks and the engine's
// registration both ask this.
func (t Trigger) EmptyFields() []string {
	var out []string
	need := func(name, v string) {
		if strings.TrimSpace(v) == "" {
			out = append(out, name)
		}
	}
	switch t.Kind {
	case TriggerRPC:
		need("endpoint", t.Endpoint)
	case TriggerEvent:
		need("topic", t.Topic)
		need("event", t.Event)
	}
	return out
}
