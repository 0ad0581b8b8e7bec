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
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// scheduleID is the ID of the Temporal Schedule of a flow's schedule
// trigger: every serve process derives the same one, so that the first
// creates it and the others find it.
func scheduleID(flow, spec string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + spec))
	return "flowgen-schedule-" + flow + "-" + hex.EncodeToString(sum[:6])
}

// cronOf is a flowgen schedule (runtime.ParseSchedule: a cron expression,
// a "@every d" grid, either after TZ= or CRON_TZ=) as a Temporal cron
// expression, which reads the same forms (a "@every" grid from the Unix
// epoch, as flowgen's) with the zone as CRON_TZ=.
func cronOf(spec string) string {
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "TZ="); ok {
		return "CRON_TZ=" + rest
	}
	return spec
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
	id := scheduleID(f.Name, spec)
	action := &client.ScheduleWorkflowAction{
		ID: id, Workflow: flowtemporal.WorkflowName(f.Name), Args: []any{in}, TaskQueue: x.opts.TaskQueue,
		Memo: map[string]any{memoDefinition: in.Definition, memoStart: stateHash([]byte("{}"))},
	}
	sc := x.c.ScheduleClient()
	// Every tick starts its run, whether the last one has ended or not,
	// as the engine's ticks do (Temporal's default skips a tick then).
	_, err = sc.Create(ctx, client.ScheduleOptions{ID: id, Spec: client.ScheduleSpec{CronExpressions: []string{cronOf(spec)}}, Action: action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			s.Action = action
			s.Spec = &client.ScheduleSpec{CronExpressions: []string{cronOf(spec)}}
			if s.Policy != nil {
				s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
			}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
}
