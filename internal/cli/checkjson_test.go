package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check prints people one diagnostic per source line (the first mistake of
// a line often causes the next), and -json every one of them: tools and
// editors place each on its own.
func TestCheckJSONKeepsEveryDiagnosticOfALine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "b.flow")
	src := "flow B {\n    state S\n    step R { choose { otherwise -> done } timeout 1m irreversible }\n}\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("check", "-nopkg", file)
	if code != 1 || out != "" || strings.Count(errs, ": error: ") != 1 {
		t.Errorf("check: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and one error", code, out, errs)
	}
	code, out, _ = runCLI("check", "-nopkg", "-json", file)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 {
		t.Fatalf("check -json: exit %d, %d diagnostics:\n%s\nwant exit 1 and 3 (choose-when, and the timeout and irreversible a choose cannot have)", code, len(lines), out)
	}
	for i, code := range []string{`"column":14`, `"column":43`, `"column":54`} {
		if !strings.Contains(lines[i], code) {
			t.Errorf("diagnostic %d is not at %s: %s", i, code, lines[i])
		}
	}
}
