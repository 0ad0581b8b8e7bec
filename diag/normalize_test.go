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
