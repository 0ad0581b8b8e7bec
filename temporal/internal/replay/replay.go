// Package replay replays recorded workflow histories on the workflow code
// of this module, as a worker that takes a run over replays it: the tests'
// proof that the code still makes the commands a history holds.
package replay

import (
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Replayer is a workflow replayer as a worker.Registry, so that the code
// that registers a worker's workflows registers them with it: it replays
// the workflows and has no use for activities (nor Nexus services, which
// flowgen's workflows do not register).
type Replayer struct {
	worker.WorkflowReplayer
	worker.NexusServiceRegistry
}

// New returns a Replayer with no workflow registered.
func New() Replayer { return Replayer{WorkflowReplayer: worker.NewWorkflowReplayer()} }

func (Replayer) RegisterActivity(any)                                         {}
func (Replayer) RegisterActivityWithOptions(any, activity.RegisterOptions)    {}
func (Replayer) RegisterDynamicActivity(any, activity.DynamicRegisterOptions) {}

// Run replays history h of the workflow whose ID is id (a run's child
// workflows' IDs derive from it).
func (r Replayer) Run(id string, h *historypb.History) error {
	return r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}})
}
