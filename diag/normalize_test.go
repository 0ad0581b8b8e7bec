package diag

import "testing"

// An error later on a line than a warning is the one kept: otherwise the
// exit status says "error" while the output shows only a warning.
func TestNormalizeKeepsErrorOverEarlierWarning(t *testing.T) {
	at := func(col int) Range { return Range{Start: Pos{File: "a.flow", Line: 3, Column: col}} }
	l := List{
		Warnf(at(10), "no-rollback", "warning first"),
		Errorf(at(50), "undefined-target", "error later"),
		Warnf(at(60), "x", "another warning"),
	}
	got, dropped := l.Normalize(0)
	if len(got) != 1 || dropped != 0 || got[0].Severity != Error || got[0].Message != "error later" {
		t.Errorf("Normalize = %v (dropped %d), want only the error", got, dropped)
	}
}

// Sorted keeps every diagnostic of a line, which Normalize folds into one,
// and drops only exact repeats.
func TestSortedKeepsEveryDiagnosticOfALine(t *testing.T) {
	at := func(col int) Range { return Range{Start: Pos{File: "a.flow", Line: 3, Column: col}} }
	l := List{
		Errorf(at(50), "sleep-deadline", "deadline"),
		Errorf(at(20), "sleep-timeout", "timeout"),
		Errorf(at(20), "sleep-timeout", "timeout"),
	}
	got := l.Sorted()
	if len(got) != 2 || got[0].Code != "sleep-timeout" || got[1].Code != "sleep-deadline" {
		t.Errorf("Sorted = %v, want the timeout then the deadline, once each", got)
	}
	if norm, _ := l.Normalize(-1); len(norm) != 1 {
		t.Errorf("Normalize = %v, want one per line", norm)
	}
}
