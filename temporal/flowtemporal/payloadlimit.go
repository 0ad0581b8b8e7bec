package flowtemporal

import (
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/runtime"
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
//
// An activity's result past the limit is refused by the cluster, which
// fails the activity with its own error ("Complete result exceeds size
// limit"), not retried: the run knew neither which attempt it was nor that
// its state was the cause. The attempt measures its result first and
// fails, permanently, with ErrResultTooLarge, as one whose state does not
// encode as JSON fails (runtime.StateNotJSON).
//
// Both are encoded once: the payload measured is the one sent, passed to
// the SDK as a converter.RawValue, which a data converter passes through
// as it is (converter.DataConverter's contract), so the state is not
// encoded a second time by the SDK.
//
// A state goes to the SDK through a pointer, everywhere (an activity's
// input and result, a run's start and its result, a call's child's
// input), as the runtime encodes it (runtime.EncodeState(&state)): encoded
// as a value, a field whose JSON methods have pointer receivers, a
// math/big.Int say, is not addressable, so encoding/json skips its
// MarshalJSON and writes its unexported fields, {}; the value was lost on
// the way, and decoding it failed the run.

// DefaultMaxInput is Options.MaxInput's default: Temporal's default
// payload limit, limit.blobSize.error (2 MiB).
const DefaultMaxInput = 2 << 20

// ErrInputTooLarge marks the failure of a step (or rollback) whose
// activity input, its state and payload, is past Options.MaxInput.
var ErrInputTooLarge = errors.New("flowtemporal: the step's input is past the cluster's payload limit")

// ErrResultTooLarge marks the failure of an attempt of a step (or
// rollback) whose result, the state it left, is past Options.MaxInput.
var ErrResultTooLarge = errors.New("flowtemporal: the state the attempt left is past the cluster's payload limit")

func (f *Flow[S]) maxInput() int {
	if f.opts.MaxInput > 0 {
		return f.opts.MaxInput
	}
	return DefaultMaxInput
}

// input is in, the input of activity name, encoded as the default data
// converter does, which the workflow's activities use, as the argument to
// schedule it with; ErrInputTooLarge, saying by how much, when it is past
// the cluster's payload limit. An input that does not encode is returned
// as it is, for the activity's own scheduling to say what is wrong.
func (f *Flow[S]) input(name string, in *ActionInput[S]) (any, error) {
	p, err := encoded(in)
	if err != nil {
		return in, nil
	}
	if n := p.Size(); n > f.maxInput() {
		return in, fmt.Errorf("%w: activity %s's input (the run's state and the step's payload) encodes to %d bytes, more than %d (limit.blobSize.error; flowtemporal.Options.MaxInput)", ErrInputTooLarge, name, n, f.maxInput())
	}
	return converter.NewRawValue(p.Payloads[0]), nil
}

// result is out, an attempt's result holding the state the attempt left
// (state), encoded as the SDK would encode it to complete the activity; a
// permanent ErrResultTooLarge when it is past limit, the cluster's payload
// limit. Every event records the state, as JSON: one that does not encode
// fails the attempt, permanently, as on the runtime (else the SDK would
// fail to encode the result, a failure it retries). It is encoded once:
// the rest of out always encodes, so only when out does not is the state
// encoded alone, for the runtime's error.
func result(out any, state any, limit int) (converter.RawValue, error) {
	p, err := encoded(out)
	if err != nil {
		if _, jerr := runtime.EncodeState(state); jerr != nil {
			return converter.RawValue{}, runtime.StateNotJSON(jerr)
		}
		return converter.RawValue{}, err
	}
	if n := p.Size(); n > limit {
		return converter.RawValue{}, runtime.Permanent(fmt.Errorf("%w: it encodes to %d bytes, more than %d (limit.blobSize.error; flowtemporal.Options.MaxInput)", ErrResultTooLarge, n, limit))
	}
	return converter.NewRawValue(p.Payloads[0]), nil
}

// merged is nil when the run's state, as a branch's merged writes left
// it, fits the cluster's payload limit, as the SDK would encode it for the
// run's result, else a permanent ErrResultTooLarge. The branches' results
// are each within the limit, but merged in workflow code they may not be,
// and the cluster refuses a run's result past it, terminating the
// workflow, as it refuses an activity's input.
func (f *Flow[S]) merged(state *S) error {
	p, err := encoded(state)
	if err != nil {
		return nil // runtime.EncodeState said it encodes
	}
	if n := p.Size(); n > f.maxInput() {
		return runtime.Permanent(fmt.Errorf("%w: the merged state encodes to %d bytes, more than %d (limit.blobSize.error; flowtemporal.Options.MaxInput)", ErrResultTooLarge, n, f.maxInput()))
	}
	return nil
}

// encoded is v as the payloads the cluster measures (their Size).
func encoded(v any) (*commonpb.Payloads, error) {
	return converter.GetDefaultDataConverter().ToPayloads(v)
}
