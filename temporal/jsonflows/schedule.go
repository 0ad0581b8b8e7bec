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
// creates it and the others find it.
func scheduleID(flow, spec string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + spec))
	return schedulePrefix + flow + "-" + hex.EncodeToString(sum[:6])
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

// madeSchedule is what attaching a flow did to one Temporal Schedule:
// created it (prev nil), or changed the one there was, whose action,
// spec and overlap policy prev holds; undo reverts it.
type madeSchedule struct {
	id   string
	prev *client.Schedule
}

// schedule creates the Temporal Schedule of spec for f, or points the
// existing one at f's current definition. A tick starts a run of the
// definition the schedule holds then: runs are pinned as HTTP starts are.
func (x *Executor) schedule(ctx context.Context, f engine.ExecFlow, spec string) (madeSchedule, error) {
	in, err := runInput(f, []byte("{}"))
	if err != nil {
		return madeSchedule{}, err
	}
	in.Scheduled = true
	crons, err := cronsOf(spec)
	if err != nil {
		return madeSchedule{}, err
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
		return madeSchedule{id: id}, err
	}
	made := madeSchedule{id: id}
	err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			made.prev = &client.Schedule{Action: s.Action, Spec: s.Spec}
			if s.Policy != nil {
				p := *s.Policy
				made.prev.Policy = &p
				s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
			}
			s.Action = action
			s.Spec = &client.ScheduleSpec{CronExpressions: crons}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	return made, err
}

// undo reverts m: deletes the schedule it created, or gives the one it
// changed back its action, spec and overlap policy.
func (x *Executor) undo(ctx context.Context, m madeSchedule) error {
	h := x.c.ScheduleClient().GetHandle(ctx, m.id)
	if m.prev == nil {
		return deleteSchedule(ctx, h)
	}
	return h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			s.Action, s.Spec = m.prev.Action, m.prev.Spec
			if s.Policy != nil && m.prev.Policy != nil {
				s.Policy.Overlap = m.prev.Policy.Overlap
			}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
}

// deleteSchedule deletes a Temporal Schedule; one already gone (deleted by
// hand, or by another process) is no error.
func deleteSchedule(ctx context.Context, h client.ScheduleHandle) error {
	err := h.Delete(ctx)
	if nf := (*serviceerror.NotFound)(nil); errors.As(err, &nf) {
		return nil
	}
	return err
}

// attachSchedules makes the Temporal Schedules of f's schedule triggers,
// all or none: on an error it undoes those it made.
func (x *Executor) attachSchedules(ctx context.Context, f engine.ExecFlow) ([]madeSchedule, error) {
	var made []madeSchedule
	for _, t := range f.Triggers {
		if t.Kind != runtime.TriggerSchedule {
			continue
		}
		m, err := x.schedule(ctx, f, t.Schedule)
		if err != nil {
			if uerr := x.undoAll(ctx, made); uerr != nil {
				err = fmt.Errorf("%w (and undoing the schedules made before: %v)", err, uerr)
			}
			return nil, fmt.Errorf("flow %q: schedule %q: %w", f.Name, t.Schedule, err)
		}
		made = append(made, m)
	}
	return made, nil
}

// undoAll undoes made, the last first (a schedule made twice goes back
// to what it was before both).
func (x *Executor) undoAll(ctx context.Context, made []madeSchedule) error {
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if err := x.undo(ctx, made[i]); err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", made[i].id, err))
		}
	}
	return errors.Join(errs...)
}

// Refused undoes what attaching f made to the Temporal Schedules, when
// the change that attached it is refused (engine.TriggerKeeper): the
// schedules it created are deleted, those it changed get their action,
// spec and policy back, so that a refused PUT /flows changes nothing.
func (x *Executor) Refused(ctx context.Context, f engine.ExecFlow) (err error) {
	defer func() { err = unreachable(ctx, "undoing the schedules of flow "+f.Name, err) }()
	x.mu.Lock()
	rec, ok := x.made[f.Name]
	ok = ok && rec.hash == f.Hash // what this definition's attach made
	if ok {
		delete(x.made, f.Name)
	}
	x.mu.Unlock()
	if !ok {
		return nil
	}
	return x.undoAll(ctx, rec.schedules)
}

// Replaced deletes the Temporal Schedules of old's schedule triggers that
// now does not have (a spec changed or removed), once an operator's change
// replaced old by now (engine.TriggerKeeper). A schedule already gone is
// no error. A process that still serves old makes its schedule again when
// it next starts.
func (x *Executor) Replaced(ctx context.Context, old, now engine.ExecFlow) (err error) {
	defer func() {
		err = unreachable(ctx, "removing the schedules of flow "+old.Name+"'s replaced definition", err)
	}()
	x.mu.Lock()
	delete(x.made, now.Name) // the change is final: nothing to undo
	x.mu.Unlock()
	kept := map[string]bool{}
	for _, t := range now.Triggers {
		if t.Kind == runtime.TriggerSchedule {
			kept[scheduleID(now.Name, t.Schedule)] = true
		}
	}
	var errs []error
	for _, t := range old.Triggers {
		if t.Kind != runtime.TriggerSchedule {
			continue
		}
		id := scheduleID(old.Name, t.Schedule)
		if kept[id] {
			continue
		}
		kept[id] = true // deleted once
		if err := deleteSchedule(ctx, x.c.ScheduleClient().GetHandle(ctx, id)); err != nil {
			errs = append(errs, fmt.Errorf("deleting schedule %s of flow %q's old spec %q: %w", id, old.Name, t.Schedule, err))
		}
	}
	return errors.Join(errs...)
}
