package jsonflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// scheduleID is the ID of the Temporal Schedule of a flow's schedule
// trigger: every serve process derives the same one, so that the first
// creates it and the others find it. It hashes the spec in canonical form
// (runtime.CanonicalSchedule), as the engine names a tick's run: specs
// that differ only in white space are one schedule, under one ID.
func scheduleID(flow, spec string) string {
	return writtenScheduleID(flow, runtime.CanonicalSchedule(spec))
}

// writtenScheduleID hashes spec as written: the ID that serve processes
// gave a schedule before scheduleID hashed the canonical form. For a spec
// not in canonical form it names a second schedule of the same ticks,
// which Activate and Replaced delete (writtenDuplicate), so that an
// upgraded deployment does not keep both.
func writtenScheduleID(flow, spec string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + spec))
	return schedulePrefix + flow + "-" + hex.EncodeToString(sum[:6])
}

// writtenDuplicate is the ID of the schedule that a process of older code
// made for spec (writtenScheduleID), when it is not the schedule's own ID.
func writtenDuplicate(flow, spec string) (string, bool) {
	id := writtenScheduleID(flow, spec)
	return id, id != scheduleID(flow, spec)
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

// scheduleOf is the Temporal Schedule of spec for f: its ID, and the
// action and spec it has once f is registered.
func (x *Executor) scheduleOf(f engine.ExecFlow, spec string) (string, *client.ScheduleWorkflowAction, []string, error) {
	in, err := runInput(f, []byte("{}"))
	if err != nil {
		return "", nil, nil, err
	}
	in.Scheduled = true
	crons, err := cronsOf(spec)
	if err != nil {
		return "", nil, nil, err
	}
	id := scheduleID(f.Name, spec)
	return id, &client.ScheduleWorkflowAction{
		ID: id, Workflow: flowtemporal.WorkflowName(f.Name), Args: []any{in}, TaskQueue: x.opts.TaskQueue,
		Memo: map[string]any{memoDefinition: in.Definition, memoStart: stateHash([]byte("{}"))},
	}, crons, nil
}

// schedule creates the Temporal Schedule of spec for f, or points the
// existing one at f's current definition. A tick starts a run of the
// definition the schedule holds then: runs are pinned as HTTP starts are.
func (x *Executor) schedule(ctx context.Context, f engine.ExecFlow, spec string) error {
	id, action, crons, err := x.scheduleOf(f, spec)
	if err != nil {
		return err
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
			if s.Policy != nil {
				s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
			}
			s.Action = action
			s.Spec = &client.ScheduleSpec{CronExpressions: crons}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
}

// checkSchedules checks, without changing anything, what makeSchedules
// needs: each schedule trigger's spec reads as Temporal cron expressions,
// and the cluster answers about its schedule (one not there yet is no
// error), so that a cluster down refuses the change (503) before it
// commits rather than leave it without its schedules.
func (x *Executor) checkSchedules(ctx context.Context, f engine.ExecFlow) error {
	for _, t := range f.Triggers {
		if t.Kind != runtime.TriggerSchedule {
			continue
		}
		id, _, _, err := x.scheduleOf(f, t.Schedule)
		if err == nil {
			_, err = x.c.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
			if isNotFound(err) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("flow %q: schedule %q: %w", f.Name, t.Schedule, err)
		}
	}
	return nil
}

// deleteSchedule deletes a Temporal Schedule; one already gone (deleted by
// hand, or by another process) is no error.
func deleteSchedule(ctx context.Context, h client.ScheduleHandle) error {
	err := h.Delete(ctx)
	if isNotFound(err) {
		return nil
	}
	return err
}

// makeSchedules makes the Temporal Schedules of f's schedule triggers,
// or points them at f's definition, and deletes the duplicate each may
// have under the ID of older code (writtenDuplicate: one call a spec not
// in canonical form, no listing). It is idempotent, so that keep can do
// it again after a failure.
func (x *Executor) makeSchedules(ctx context.Context, f engine.ExecFlow) error {
	var errs []error
	for _, t := range f.Triggers {
		if t.Kind != runtime.TriggerSchedule {
			continue
		}
		if err := x.schedule(ctx, f, t.Schedule); err != nil {
			errs = append(errs, fmt.Errorf("flow %q: schedule %q: %w", f.Name, t.Schedule, err))
			continue
		}
		// Deleted once the schedule under its own ID is there, so that
		// the spec never lacks one: at worst a tick in between starts
		// a run on both.
		if id, ok := writtenDuplicate(f.Name, t.Schedule); ok {
			if err := deleteSchedule(ctx, x.c.ScheduleClient().GetHandle(ctx, id)); err != nil {
				errs = append(errs, fmt.Errorf("flow %q: schedule %q: deleting %s, its schedule under the ID of older code: %w", f.Name, t.Schedule, id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Replaced deletes the Temporal Schedules of old's schedule triggers that
// now does not have (a spec changed or removed; one only spaced otherwise
// is the same), with their duplicates under the ID of older code
// (writtenDuplicate), once an operator's change replaced old by now
// (engine.TriggerKeeper). A schedule already gone is
// no error. On an error it keeps trying (keep), while now is attached. A
// process that still serves old makes its schedule again when it next
// starts.
func (x *Executor) Replaced(ctx context.Context, old, now engine.ExecFlow) error {
	kept := map[string]bool{}
	for _, t := range now.Triggers {
		if t.Kind == runtime.TriggerSchedule {
			kept[scheduleID(now.Name, t.Schedule)] = true
		}
	}
	return x.keep(ctx, now, "removing the schedules of flow "+old.Name+"'s replaced definition", func(ctx context.Context) error {
		var errs []error
		gone := map[string]bool{}
		for _, t := range old.Triggers {
			if t.Kind != runtime.TriggerSchedule {
				continue
			}
			ids := []string{scheduleID(old.Name, t.Schedule)}
			if id, ok := writtenDuplicate(old.Name, t.Schedule); ok {
				ids = append(ids, id)
			}
			for _, id := range ids {
				if kept[id] || gone[id] {
					continue
				}
				if err := deleteSchedule(ctx, x.c.ScheduleClient().GetHandle(ctx, id)); err != nil {
					errs = append(errs, fmt.Errorf("deleting schedule %s of flow %q's old spec %q: %w", id, old.Name, t.Schedule, err))
					continue
				}
				gone[id] = true // deleted once, and not again when keep tries again
			}
		}
		return errors.Join(errs...)
	})
}

// isNotFound says whether err is the cluster's answer that what it was
// asked about (a workflow, a schedule) is not there.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
