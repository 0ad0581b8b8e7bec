package graph

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flowgen/flowgen/dsl"
)

// The label text is the .flow syntax of each line, so a reader of the
// diagram sees what they would write. Policies are the effective ones
// (dsl's RetryFor/TimeoutFor/DeadlineFor), so a step that inherits the
// flow's retry shows it.

// stepLines returns the label lines of a step after its name.
func stepLines(fl *dsl.Flow, s *dsl.Step) []string {
	var lines []string
	lines = append(lines, s.Spec().Label(s.Action, word)) // a block has no action: its kind's label
	if r := retryText(fl.RetryFor(s)); r != "" {
		lines = append(lines, r)
	}
	if d := fl.TimeoutFor(s); d > 0 {
		lines = append(lines, "timeout "+dsl.FormatDuration(d))
	}
	if d := fl.DeadlineFor(s); d > 0 {
		lines = append(lines, "deadline "+dsl.FormatDuration(d))
	}
	if s.Rollback != nil {
		lines = append(lines, "rollback "+rollbackText(s.Rollback))
	}
	if s.Irreversible {
		lines = append(lines, "irreversible")
	}
	for _, p := range s.Publish {
		if p != nil {
			lines = append(lines, publishText(p))
		}
	}
	return lines
}

// undoLines returns the label lines of an undo state after its title.
func undoLines(fl *dsl.Flow, s *dsl.Step) []string {
	action := rollbackText(s.Rollback)
	if s.Rollback.IsGo() {
		action = "go " + action
	}
	lines := []string{action}
	if r := retryText(fl.RollbackRetryFor(s)); r != "" {
		lines = append(lines, r)
	}
	return lines
}

// actionText is the label line of an action: its kind's Label
// (dsl.KindSpec), with state fields printed by word.
func actionText(a *dsl.Action) string { return a.Spec().Label(a, word) }

// publishText is the label line of a publication after success, written
// as the publish action it is in .flow.
func publishText(p *dsl.Publication) string {
	return actionText(&dsl.Action{Kind: dsl.ActionPublish, Topic: p.Topic, Event: p.Event, Request: p.Payload})
}

func rollbackText(r *dsl.Rollback) string {
	switch {
	case r == nil:
		return ""
	case r.Action != nil:
		return actionText(r.Action)
	case r.Name != nil:
		return word(r.Name.Name)
	}
	return "?"
}

// retryText is "3 attempts, 100ms..5s" plus a non-default multiplier and
// jitter; "" for a single attempt, which is no retry at all. It counts
// attempts, as `retry 3` does: "retry 3×" read as three retries, one
// attempt more than the flow makes.
func retryText(r dsl.Retry) string {
	if r.Attempts <= 1 {
		return ""
	}
	parts := []string{fmt.Sprintf("%d attempts", r.Attempts)}
	switch {
	case r.Initial > 0 && r.Max > 0:
		parts = append(parts, dur(r.Initial)+".."+dur(r.Max))
	case r.Initial > 0:
		parts = append(parts, "backoff "+dur(r.Initial))
	}
	if r.Multiplier != 0 && r.Multiplier != dsl.DefaultMultiplier {
		parts = append(parts, "multiplier "+strconv.FormatFloat(r.Multiplier, 'g', -1, 64))
	}
	if r.Jitter == dsl.JitterNone {
		parts = append(parts, "no jitter")
	}
	return strings.Join(parts, ", ")
}

func dur(d dsl.Duration) string { return dsl.FormatDuration(time.Duration(d)) }

// triggers labels the start arrow: what starts the flow.
func triggers(fl *dsl.Flow) string {
	var parts []string
	for _, t := range fl.Triggers {
		if t == nil {
			continue
		}
		parts = append(parts, t.String())
	}
	return strings.Join(parts, ", ")
}

// word prints a name as is when it is a plain word, quoted otherwise, so
// that control characters and spaces from a hand-written JSON definition
// cannot break a label.
func word(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return strconv.Quote(s)
		}
	}
	return s
}
