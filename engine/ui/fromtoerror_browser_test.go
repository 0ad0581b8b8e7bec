package ui_test

import (
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// shipSteps is a flow whose one step fails at once with a long error, a
// sentence that wraps (Ship.Now of an item "long-url": an HTTP call's
// error with its URL).
const shipSteps = `
flow Dispatch {
    state DispatchState
    trigger rpc "Dispatch.Start"

    step ShipParcel {
        rpc shipping "Ship.Now" (Item)
        irreversible
    }
}
`

// The timeline's From → To shows its states whole at 1280 px beside a
// long error too: the Error column, which wraps, took the room, and the
// browser's table cut "ShipParcel:running → failing" to "ShipP… → fa…",
// the column only as wide as its longest word.
func TestBrowserTimelineFromToWholeBesideError(t *testing.T) {
	v := newEnv(t)
	id := v.startDefined("dispatch.flow", shipSteps, "Dispatch", `{"Item": "long-url"}`, runtime.StateFailed)
	fromToWhole(t, v, id, 3, "dispatch")
}
