package jsonflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// scheduleID is the ID of the Temporal Schedule of a flow's schedule
// trigger: every serve process derives the same one, so that the first
// creates it and the others find it.
func scheduleID(flow, spec string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + spec))
	return "flowgen-schedule-" + flow + "-" + hex.EncodeToString(sum[:6])
}

// cronsOf is a flowgen schedule (runtime.ParseSchedule: a cron expression,
// a "@every d" grid, either after TZ= or CRON_TZ=) as Temporal cron
// expressions, which read the same forms (a "@every" grid from the Unix
// epoch, in whole seconds, as flowgen's; UTC without a zone, as flowgen's)
// with the zone as CRON_TZ=, but match every field: runtime.ScheduleCrons
// writes a "?" as "*", which Temporal refuses, and a spec that restricts
// both day fields, which fires on either, as two expressions, since
// Temporal would fire only on the days matching both.
func cronsOf(spec string) ([]string, error) {
	crons, err := runtime.ScheduleCrons(spec)
	if err != nil {
		return nil, err
	}
	for i, c := range crons {
		if rest, ok := strings.CutPrefix(c, "TZ="); ok {
			crons[i] = "CRON_TZ=" + rest
		}
	}
	return crons, nil
}

// schedule creates the Temporal Schedule of spec for f, or points the
// existing one at f's current definition. A tick starts a run of the
// definition the schedule holds then: runs are pinned as HTTP starts are.
func (x *Executor) schedule(ctx context.Context, f engine.ExecFlow, spec string) error {
	in, err := runInput(f, []byte("{}"))
	if err != nil {
		return err
	}
	in.Scheduled = true
	crons, err := cronsOf(spec)
	if err != nil {
		return err
	}
	id := scheduleID(f.Name, spec)
	action := &client.ScheduleWorkflowAction{
		ID: id, Workflow: flowtemporal.WorkflowName(f.Name), Args: []any{in}, TaskQueue: x.opts.TaskQueue,
		Memo: map[string]any{memoDefinition: in.Definition, memoStart: stateHash([]byte("{}"))},
	}
	sc := x.c.ScheduleClient()
	// Every tick starts its run, whether the last one has ended or not,
	// as the engine's ticks do (Temporal's default skips a tick then).
	_, err = sc.Create(ctx, client.ScheduleOptions{ID: id, Spec: client.ScheduleSpec{CronExpressions: crons}, Action: action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			s.Action = action
			s.Spec = &client.ScheduleSpec{CronExpressions: crons}
			if s.Policy != nil {
				s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
			}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
}
