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
