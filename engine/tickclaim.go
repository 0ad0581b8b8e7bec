package engine

import (
	"context"
	"time"
)

// TickClaimer is a Broker that decides which of the processes sharing it
// starts a schedule's tick (natsbus: a key per schedule in a JetStream
// KeyValue bucket). Engines of one process that share a store need none:
// a tick's run ID is derived from the tick, and the store refuses a second
// first event. Engines of several processes, each with its store, that
// share a broker (flowgen serve -nats, an -id each) share an event
// trigger's messages, one run per message among them, but each fired
// every tick of a flow they all define: one run per tick and process. On a
// Broker that has it, the engine claims each tick before it starts its
// run, and starts it only when the claim is granted. MemoryBroker has
// none: it spans one process.
type TickClaimer interface {
	// ClaimTick reports whether the engine holder (Options.ID, which one
	// process holds on the broker: IDClaimer) starts tick of schedule (a
	// flow's schedule, ScheduleKey). It is granted to one holder per tick,
	// and only while no later tick of the schedule has been granted: a
	// process back from an outage does not start the latest tick it
	// missed when another process started that tick, or a later one,
	// meanwhile. A tick granted to holder is granted to it again (the
	// process restarted after a crash between the claim and the run's
	// start, or retrying a tick refused for the runs in flight). An error
	// (the broker unreachable) grants nothing; the engine tries again.
	ClaimTick(ctx context.Context, schedule string, tick time.Time, holder string) (bool, error)
	// LatestClaim is the latest tick of schedule granted, and its holder;
	// the zero time when none was. An engine whose store holds no run of
	// the schedule's ticks asks it as its schedule starts: a tick granted
	// to it whose run it did not record (it died in between) is a tick it
	// missed, where its store alone would say the flow never fired.
	LatestClaim(ctx context.Context, schedule string) (tick time.Time, holder string, err error)
}
