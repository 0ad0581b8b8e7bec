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

// The cap keeps errors before warnings: twelve warnings above an error
// used to fill the list, and the error that makes the exit status 1 was
// one of the "more not shown".
func TestNormalizeCapKeepsErrors(t *testing.T) {
	var l List
	for i := range 12 {
		l = append(l, Warnf(Range{Start: Pos{File: "a.flow", Line: i + 1, Column: 1}}, "w", "warning %d", i))
	}
	l = append(l, Errorf(Range{Start: Pos{File: "a.flow", Line: 100, Column: 1}}, "e", "the error"))
	got, dropped := l.Normalize(0)
	if len(got) != MaxReported || dropped != 3 || !got.HasErrors() || got[len(got)-1].Message != "the error" {
		t.Fatalf("Normalize = %v (dropped %d), want 9 warnings then the error, 3 dropped", got, dropped)
	}
	for i := range MaxReported - 1 {
		if got[i].Severity != Warning || got[i].Range.Start.Line != i+1 {
			t.Fatalf("entry %d = %v, want the warning of line %d, in order", i, got[i], i+1)
		}
	}
}

func TestCapKeepsErrorsAndCounts(t *testing.T) {
	l := List{Warnf(Range{}, "w", "first"), Warnf(Range{}, "w", "second"), Errorf(Range{}, "e", "the error")}
	if got, n := l.Cap(3); len(got) != 3 || n != 0 {
		t.Errorf("Cap(3) of 3: %d kept, %d omitted", len(got), n)
	}
	got, n := l.Cap(2)
	if len(got) != 2 || n != 1 || !got.HasErrors() || got[0].Message != "first" {
		t.Errorf("Cap(2) of 3: %v, %d omitted; want the first warning and the error, 1 omitted", got, n)
	}
}
