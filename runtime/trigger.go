package runtime

// Trigger is one way a flow starts, as a .flow file's `trigger` line
// declares it: generated flows list theirs in a Triggers method, which
// engine.Register uses when it is given no triggers. The runtime itself
// starts nothing from a Trigger; it only carries the declaration, so that
// generated code, which imports only runtime, can state it.
type Trigger struct {
	Kind     string `json:"kind"`               // TriggerRPC, TriggerEvent or TriggerSchedule
	Endpoint string `json:"endpoint,omitempty"` // rpc: `trigger rpc "<endpoint>"`
	Topic    string `json:"topic,omitempty"`    // event: `trigger event <topic> "<event>"`
	Event    string `json:"event,omitempty"`    // event
	Schedule string `json:"schedule,omitempty"` // schedule: a 5-field cron expression or "@every <duration>"
}

// Trigger kinds, the words of the .flow `trigger` line.
const (
	TriggerRPC      = "rpc"
	TriggerEvent    = "event"
	TriggerSchedule = "schedule"
)
