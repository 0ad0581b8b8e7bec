package twoforms

import (
	"sync"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
)

// workersMu serialises TestServer.NewWorker: the server keeps its list of
// workers without a lock of its own.
var workersMu sync.Mutex

// NewWorker is ts.NewWorker(queue, register), safe for the cases of a
// test that run in parallel, each on a queue of its own.
func NewWorker(ts *temporaltest.TestServer, queue string, register func(worker.Registry)) worker.Worker {
	workersMu.Lock()
	defer workersMu.Unlock() // deferred: NewWorker may fail the test (Goexit)
	return ts.NewWorker(queue, register)
}
