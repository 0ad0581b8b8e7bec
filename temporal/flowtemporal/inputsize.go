package flowtemporal

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/converter"
)

// An activity's input past the cluster's payload limit (limit.blobSize.error,
// 2 MB by default) is not refused to the worker that schedules it: the
// cluster terminates the whole workflow ("ScheduleActivityTaskCommandAttributes.Input
// exceeds size limit"), so the run neither rolls back nor records its end,
// and reads failed with no more than "terminated outside flowgen". A state
// grown past the limit (events awaited, responses) did that at the next
// step. The workflow measures the input first, as the data converter
// encodes it, and fails the step with ErrInputTooLarge: a failure of the
// step like any other, routed and rolled back, that no retry passes.

// DefaultMaxInput is Options.MaxInput's default: Temporal's default
// payload limit, limit.blobSize.error (2 MiB).
const DefaultMaxInput = 2 << 20

// ErrInputTooLarge marks the failure of a step (or rollback) whose
// activity input, its state and payload, is past Options.MaxInput.
var ErrInputTooLarge = errors.New("flowtemporal: the step's input is past the cluster's payload limit")

func (f *Flow[S]) maxInput() int {
	if f.opts.MaxInput > 0 {
		return f.opts.MaxInput
	}
	return DefaultMaxInput
}

// inputFits is nil when in, the input of activity name, fits the
// cluster's payload limit, else ErrInputTooLarge saying by how much. It
// encodes in as the default data converter does, which the workflow's
// activities use.
func (f *Flow[S]) inputFits(name string, in ActionInput[S]) error {
	p, err := converter.GetDefaultDataConverter().ToPayloads(in)
	if err != nil {
		return nil // the activity's own scheduling says what is wrong
	}
	if n := p.Size(); n > f.maxInput() {
		return fmt.Errorf("%w: activity %s's input (the run's state and the step's payload) encodes to %d bytes, more than %d (limit.blobSize.error; flowtemporal.Options.MaxInput)", ErrInputTooLarge, name, n, f.maxInput())
	}
	return nil
}
