package dsl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/diag"
)

var updateCheck = flag.Bool("update-check", false, "rewrite dsl/testdata/check/*/diagnostics.golden")

// TestCheckGolden loads every testdata/check/<case>/input.{flow,json} and
// compares what a user would see (normalised diagnostics with the source
// line, caret and hint) with diagnostics.golden. Run
// `go test ./dsl -run TestCheckGolden -update-check` after a deliberate
// change, and review the diff.
func TestCheckGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/check/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			inputs, _ := filepath.Glob(filepath.Join(dir, "input.*"))
			if len(inputs) != 1 {
				t.Fatalf("want one input.flow or input.json in %s, found %v", dir, inputs)
			}
			src, err := os.ReadFile(inputs[0])
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(inputs[0])
			_, ds := Load(name, src, CheckOptions{})
			for _, d := range ds {
				if !d.Range.Start.IsValid() || d.Range.Start.File != name || d.Code == "" {
					t.Errorf("diagnostic without position, file or code: %+v", d)
				}
			}
			list, dropped := ds.Normalize(0)
			var got bytes.Buffer
			if err := diag.Fprint(&got, list, func(string) []byte { return src }, dropped); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(dir, "diagnostics.golden")
			if *updateCheck {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-check to create it)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("diagnostics differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestLoadJSONEqualsFlow checks that a .flow file and its JSON form give
// the same model and the same findings (apart from positions).
func TestLoadJSONEqualsFlow(t *testing.T) {
	for _, c := range []string{"clean", "no-rollback", "retry-budget", "undefined"} {
		src, err := os.ReadFile(filepath.Join("testdata/check", c, "input.flow"))
		if err != nil {
			t.Fatal(err)
		}
		f, fds := Load("in.flow", src, CheckOptions{})
		if f == nil {
			t.Fatalf("%s: no model: %v", c, fds)
		}
		js, err := EncodeJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		g, jds := Load("in.json", js, CheckOptions{})
		if diff := cmp.Diff(f, g, jsonIgnore); diff != "" {
			t.Errorf("%s: models differ (-flow +json):\n%s", c, diff)
		}
		msgs := func(l diag.List) []string {
			var out []string
			for _, d := range l {
				out = append(out, d.Code+": "+d.Message)
			}
			return out
		}
		if diff := cmp.Diff(msgs(fds), msgs(jds)); diff != "" {
			t.Errorf("%s: findings differ (-flow +json):\n%s", c, diff)
		}
	}
}

// TestCheckFlowSnippets covers positions in .flow text, which the JSON
// table tests cannot: each diagnostic must point at the name or statement
// it is about.
func TestCheckFlowSnippets(t *testing.T) {
	tests := []struct {
		name, src string
		opts      CheckOptions
		want      []string
	}{
		{"target", "flow F {\n    step A { irreversible  on ok -> Bb }\n    step B { irreversible }\n}\n", CheckOptions{},
			// B is unreachable only because of the typo: not reported.
			[]string{`2:37: error undefined-target: transition to undefined step "Bb" in step "A" [hint: did you mean "B"?]`}},
		{"outcome", "flow F {\n    step A { irreversible  on ko -> done }\n}\n", CheckOptions{},
			[]string{`2:31: error undefined-outcome: step "A" cannot end with outcome "ko": its outcomes are ok, error [hint: did you mean "ok"?]`}},
		{"strict rollback", "flow F {\n    step A { rpc s \"S.A\" }\n}\n", CheckOptions{StrictRollback: true},
			[]string{`2:10: error no-rollback: step "A" has side effects (an rpc) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`}},
		{"await", "flow F {\n    step A {\n        await t \"e\"\n    }\n}\n", CheckOptions{},
			[]string{`3:9: error await-no-timeout: await in step "A" has no timeout: a run could wait forever [hint: add ` + "`timeout <duration>`" + ` to the await line, such as ` + "`timeout 72h`" + `, and handle it with ` + "`on timeout -> <Step>`" + `]`}},
		{"budget at the step's retry", "flow F {\n    timeout 1s\n    step A {\n        retry 3\n        deadline 2s\n        irreversible\n    }\n}\n", CheckOptions{},
			[]string{`4:9: error retry-budget: retry schedule of step "A" takes up to 3s (3 attempts × 1s timeout + 0s backoff), more than its deadline 2s [hint: raise the deadline to at least 3s, or lower the attempts, the timeout or the backoff]`}},
		{"cron at the trigger", "flow F {\n    trigger schedule \"bad\"\n    step A { irreversible }\n}\n", CheckOptions{},
			[]string{`2:5: error cron: invalid schedule "bad": expected exactly 5 fields, found 1: [bad] [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`}},
		{"build errors do not stop the checks", "flow F {\n    timeout 10x\n    step A { on ok -> Nope  irreversible }\n}\n", CheckOptions{},
			[]string{
				`2:13: error syntax: invalid duration "10x": unknown unit "x" [hint: durations use Go syntax with units ns, us, ms, s, m, h, such as 250ms or 1h30m]`,
				`3:23: error undefined-target: transition to undefined step "Nope" in step "A" [hint: a target is a step of flow "F", done or fail]`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadStrings(t, tt.src, tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzCheck feeds arbitrary input through Load as JSON and as .flow text:
// Check must not panic, and every diagnostic must be positioned, name its
// file and carry a code.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/check/*/input.*")
	more, _ := filepath.Glob("../testdata/flows/*/*.flow")
	for _, p := range append(seeds, more...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
			if strings.HasSuffix(p, ".flow") {
				if fl, ds := Load("seed.flow", src, CheckOptions{}); fl != nil && !ds.HasErrors() {
					if js, err := EncodeJSON(fl); err == nil {
						f.Add(js)
					}
				}
			}
		}
	}
	f.Add([]byte(doc(flow("F", `"retry": {"attempts": 2147483647, "initial": "1ns", "multiplier": 1.0000001}, "timeout": "1h", "deadline": "1s"`, goStep("A", "")))))
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, name := range []string{"fuzz.json", "fuzz.flow"} {
			fl, ds := Load(name, src, CheckOptions{StrictRollback: true})
			for _, d := range ds {
				if !d.Range.Start.IsValid() || d.Range.Start.File != name || d.Code == "" || d.Message == "" {
					t.Fatalf("%s: bad diagnostic %+v", name, d)
				}
			}
			if fl != nil && !ds.HasErrors() {
				// A model that checks clean must survive the JSON form.
				js, err := EncodeJSON(fl)
				if err != nil {
					t.Fatalf("EncodeJSON: %v", err)
				}
				g, jds := DecodeJSON("rt.json", js)
				if len(jds) > 0 {
					t.Fatalf("our own JSON does not decode: %v\n%s", jds.Err(), js)
				}
				if diff := cmp.Diff(fl, g, jsonIgnore); diff != "" {
					t.Fatalf("round trip changed the model:\n%s", diff)
				}
				for _, fl := range fl.Flows {
					_ = fl.GoNames()
					_ = fl.Edges()
				}
			}
		}
	})
}
