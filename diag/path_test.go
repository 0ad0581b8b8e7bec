package diag

import "testing"

func TestBeside(t *testing.T) {
	for _, tt := range []struct{ file, name, want string }{
		{"ping.flow", "state.go", "state.go"},
		{"sub/ping.flow", "state.go", "sub/state.go"},
		{"../ping.flow", "other.flow", "../other.flow"},
	} {
		if got := Beside(tt.file, tt.name); got != tt.want {
			t.Errorf("Beside(%q, %q) = %q, want %q", tt.file, tt.name, got, tt.want)
		}
	}
}

// LineColumn counts lines and byte columns from 1, and cuts an offset
// outside the text to its ends.
func TestLineColumn(t *testing.T) {
	text := []byte("{\n  \"a\": 1,\n  é\n}")
	cases := []struct{ off, line, col int }{
		{-3, 1, 1}, {0, 1, 1}, {1, 1, 2}, {2, 2, 1}, {4, 2, 3}, {14, 3, 3}, {15, 3, 4}, {16, 3, 5}, {17, 4, 1}, {99, 4, 2},
	}
	for _, c := range cases {
		if line, col := LineColumn(text, c.off); line != c.line || col != c.col {
			t.Errorf("LineColumn(%d) = %d:%d, want %d:%d", c.off, line, col, c.line, c.col)
		}
	}
}
