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
	for i, code := range []string{`"column":14`, `"column":51`, `"column":54`} {
		if !strings.Contains(lines[i], code) {
			t.Errorf("diagnostic %d is not at %s: %s", i, code, lines[i])
		}
	}
}

// check of a file with a name of 300 KB (.flow and JSON) says name-limit
// and quotes the name cut wherever it names it (diag.Quote), with or
// without -json: its output is bounded by the limits, not by the file.
// Before, name-limit was the engine's alone, and every diagnostic about
// the step quoted its 300 KB.
func TestCheckLongNamesBounded(t *testing.T) {
	dir := t.TempDir()
	long := "S" + strings.Repeat("x", 300000)
	files := map[string]string{
		"long.flow": "flow P {\n    step " + long + " {\n        await t \"e\"\n    }\n}\n",
		"long.json": `{"version": 1, "flows": [{"name": "P", "steps": [{"name": "` + long + `", "action": {"kind": "await", "topic": "t", "event": "e"}}]}]}`,
	}
	for name, src := range files {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"check", "-nopkg", file}, {"check", "-nopkg", "-json", file}} {
			code, out, errs := runCLI(args...)
			if code != 1 || len(out)+len(errs) > 8000 || !strings.Contains(out+errs, "name-limit") && !strings.Contains(out+errs, "longer than 128") {
				t.Errorf("%v: exit %d, %d bytes:\n%.3000s", args, code, len(out)+len(errs), out+errs)
			}
		}
	}
}
