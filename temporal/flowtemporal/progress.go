package flowtemporal

import (
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// Where a run is, for lists of runs. Temporal's visibility lists workflows
// without running their queries, so a run of a flow with Options.Progress
// keeps its machine state and step in its memo (MemoProgress), folded from
// its events by the rules the stores' run lists use (store.RunInfo): the
// machine state is the To of the last event of the run's own machine (a
// branch's events leave it in its block), and the step is the runtime's
// (runtime.RunStep), so a listed run names the step its status does.

// Progress is what MemoProgress holds.
type Progress struct {
	Machine string `json:"machine"`        // e.g. "Charge:running"
	Step    string `json:"step,omitempty"` // runtime.RunStep's
}

// ProgressOf reads a workflow's MemoProgress; ok is false for a run that
// records none (a flow without Options.Progress, or a run started by a
// worker of older code).
func ProgressOf(memo *commonpb.Memo) (p Progress, ok bool) {
	return p, MemoValue(memo, MemoProgress, &p) && p.Machine != ""
}

// ParentOf is the run whose call started a workflow, as its memo names it
// (MemoParent), or nil; child reports whether the workflow has a parent
// workflow at all (a workflow started otherwise names none, whatever its
// memo). A child run's first event (Event.Parent) and lists of runs read
// it so.
func ParentOf(child bool, memo *commonpb.Memo) *runtime.RunRef {
	var ref runtime.RunRef
	if !child || !MemoValue(memo, MemoParent, &ref) || ref.RunID == "" {
		return nil
	}
	return &ref
}

// MemoValue decodes memo's field into v with the SDK's default data
// converter (the one the memo was written with); false if the field is
// missing or unreadable.
func MemoValue(memo *commonpb.Memo, field string, v any) bool {
	p := memo.GetFields()[field]
	return p != nil && converter.GetDefaultDataConverter().FromPayload(p, v) == nil
}

// progressed folds e into the run's progress and returns it with true when
// it changed and the run records it: a flow with Options.Progress, and a
// run started by code that does (workflow.GetVersion, first asked at the
// run's first event: a run started before replays without the memo's
// commands).
func (r *wfRun[S]) progressed(e *runtime.Event) (Progress, bool) {
	if !r.f.opts.Progress || e.Branch != "" {
		return Progress{}, false
	}
	r.steps.Apply(e)
	p := Progress{Machine: e.To, Step: r.steps.Step}
	if p == r.listed || workflow.GetVersion(r.ctx, versionMemoProgress, workflow.DefaultVersion, 1) != 1 {
		return p, false
	}
	r.listed = p
	return p, true
}
