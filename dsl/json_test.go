package dsl

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

func TestEncodeJSONDoesNotMutate(t *testing.T) {
	f := &File{Flows: []*Flow{nil, {Name: "A", Steps: []*Step{nil, {Name: "B"}}}}}
	b, err := EncodeJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "flows": [
    {
      "name": "A",
      "steps": [
        {
          "name": "B",
          "action": {
            "kind": "go"
          }
        }
      ]
    }
  ]
}
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("EncodeJSON (-want +got):\n%s", diff)
	}
	if f.Version != 0 || f.Flows[0] != nil || f.Flows[1].Steps[1].Action != nil {
		t.Errorf("EncodeJSON modified its input")
	}
}

func TestDecodeJSONPositions(t *testing.T) {
	d := func(flowFields string) string {
		return `{"version": 1, "flows": [{"name": "F", ` + flowFields + `}]}`
	}
	goStep := `{"name": "A", "action": {"kind": "go"}}`
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown field", d(`"steps": [], "timout": "1s"`),
			[]string{`$.flows[0].timout: error json: unknown field "timout" in flow [hint: did you mean "timeout"?]`}},
		{"unknown field without suggestion", `{"version": 1, "flows": [], "zzzzzzzz": 1}`,
			[]string{`$.zzzzzzzz: error json: unknown field "zzzzzzzz" in flowgen JSON document [hint: a flowgen JSON document has the fields version, flows]`}},
		{"odd key", `{"version": 1, "flows": [], "a b": 1}`,
			[]string{`$["a b"]: error json: unknown field "a b" in flowgen JSON document [hint: a flowgen JSON document has the fields version, flows]`}},
		{"wrong type", d(`"steps": [{"name": 3, "action": {"kind": "go"}}]`),
			[]string{`$.flows[0].steps[0].name: error json: expected string for "name", found number [hint: write the value in double quotes: "name": "3"]`}},
		{"NUL in a string", d(`"doc": "a\u0000b", "steps": []`),
			[]string{`$.flows[0].doc: error json: "doc" holds a NUL character [hint: delete the \u0000 from the string]`}},
		{"bidi control in a string", d(`"steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e\u202e"}, "irreversible": true}]`),
			[]string{`$.flows[0].steps[0].action.event: error json: "event" holds the bidirectional control character U+202E, which makes the text display in a different order than it is read [hint: delete the character (or its escape \u202E) from the string]`}},
		{"wrong container", d(`"steps": {}`),
			[]string{`$.flows[0].steps: error json: expected array for "steps", found object [hint: write a list in square brackets, even of one element: "steps": [...]]`}},
		{"missing required", d(`"steps": [{"action": {"kind": "rpc", "service": "s"}}]`),
			[]string{
				`$.flows[0].steps[0]: error json: missing required field "name" in step [hint: add "name": "..." to the step]`,
				`$.flows[0].steps[0].action: error json: missing required field "endpoint" in action [hint: add "endpoint": "..." to the action]`,
			}},
		{"bad durations", d(`"timeout": "10", "deadline": "-1s", "steps": [{"name": "A", "action": {"kind": "await", "topic": "t", "event": "e", "timeout": 5}}]`),
			[]string{
				`$.flows[0].deadline: error json: invalid duration "-1s": must not be negative [hint: a duration is zero or more: write "deadline": "1s"]`,
				`$.flows[0].steps[0].action.timeout: error json: expected duration string for "timeout" (such as "250ms"), found number [hint: write the duration as a string with its unit: "timeout": "30s"]`,
				`$.flows[0].timeout: error json: invalid duration "10": want Go syntax such as 250ms or 1h30m [hint: durations use Go syntax with units ns, us, ms, s, m, h, such as 250ms or 1h30m; write "timeout": "30s"]`,
			}},
		{"field of another kind", d(`"steps": [{"name": "A", "action": {"kind": "rpc", "service": "s", "endpoint": "e", "topic": "t"}}], "triggers": [{"kind": "rpc", "endpoint": "x", "schedule": "@daily"}]`),
			[]string{
				`$.flows[0].steps[0].action.topic: error json: field "topic" is not allowed in an rpc action [hint: an rpc action has only the fields kind, service, endpoint, request, response]`,
				`$.flows[0].triggers[0].schedule: error json: field "schedule" is not allowed in an rpc trigger [hint: an rpc trigger has only the fields kind, endpoint]`,
			}},
		{"correlation path", d(`"steps": [{"name": "A", "action": {"kind": "rpc", "service": "s", "endpoint": "e", "correlate_on": "order_id"}}, {"name": "B", "action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": 7}}, {"name": "C", "action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlat_on": "x"}}]`),
			[]string{
				`$.flows[0].steps[0].action.correlate_on: error json: field "correlate_on" is not allowed in an rpc action [hint: an rpc action has only the fields kind, service, endpoint, request, response]`,
				`$.flows[0].steps[1].action.correlate_on: error json: expected string for "correlate_on", found number [hint: write the value in double quotes: "correlate_on": "7"]`,
				`$.flows[0].steps[2].action.correlat_on: error json: unknown field "correlat_on" in action [hint: did you mean "correlate_on"?]`,
			}},
		{"sleep fields", d(`"steps": [{"name": "A", "action": {"kind": "sleep", "duration": 5, "topic": "t"}}, {"name": "B", "action": {"kind": "sleep", "until": 7}}, {"name": "C", "action": {"kind": "rpc", "service": "s", "endpoint": "e", "duration": "1h", "until": "At"}}]`),
			[]string{
				`$.flows[0].steps[0].action.duration: error json: expected duration string for "duration" (such as "250ms"), found number [hint: write the duration as a string with its unit: "duration": "30s"]`,
				`$.flows[0].steps[0].action.topic: error json: field "topic" is not allowed in a sleep action [hint: a sleep action has only the fields kind, duration, until]`,
				`$.flows[0].steps[1].action.until: error json: expected string for "until", found number [hint: write the value in double quotes: "until": "7"]`,
				`$.flows[0].steps[2].action.duration: error json: field "duration" is not allowed in an rpc action [hint: an rpc action has only the fields kind, service, endpoint, request, response]`,
				`$.flows[0].steps[2].action.until: error json: field "until" is not allowed in an rpc action [hint: an rpc action has only the fields kind, service, endpoint, request, response]`,
			}},
		{"enums", d(`"retry": {"attempts": 2, "jitter": "ful"}, "steps": [{"name": "A", "action": {"kind": "lambda"}}]`),
			[]string{
				`$.flows[0].retry.jitter: error json: invalid jitter "ful": expected one of "full", "none" [hint: did you mean "full"?]`,
				`$.flows[0].steps[0].action.kind: error json: invalid kind "lambda": expected one of "go", "rpc", "await", "publish", "sleep", "choose", "call" [hint: write one of them, such as "kind": "go"]`,
			}},
		{"numbers", d(`"retry": {"attempts": 2.5, "multiplier": "2"}, "steps": [` + goStep + `]`),
			[]string{
				`$.flows[0].retry.attempts: error json: expected an integer for "attempts", found 2.5 [hint: write a whole number of at most 2147483647, such as "attempts": 3]`,
				`$.flows[0].retry.multiplier: error json: expected number for "multiplier", found string [hint: write the number without quotes: "multiplier": 2]`,
			}},
		{"huge integer", d(`"retry": {"attempts": 99999999999999999999}, "steps": [` + goStep + `]`),
			[]string{`$.flows[0].retry.attempts: error json: expected an integer for "attempts", found 99999999999999999999 [hint: write a whole number of at most 2147483647, such as "attempts": 3]`}},
		{"duplicate key", d(`"steps": [], "name": "G"`),
			[]string{`$.flows[0].name: error json: duplicate field "name" in flow [hint: write "name" once: delete one of the two]`}},
		{"version", `{"version": 2, "flows": []}`,
			[]string{`$.version: error json: unsupported version 2: this flowgen reads version 1 [hint: regenerate the file with ` + "`flowgen json`" + `]`}},
		{"missing version", `{"flows": []}`,
			[]string{`$: error json: missing required field "version" in flowgen JSON document [hint: add "version": 1 to the flowgen JSON document]`}},
		{"rollback shapes", d(`"steps": [{"name": "A", "action": {"kind": "go"}, "rollback": {}}, {"name": "B", "action": {"kind": "go"}, "rollback": {"name": "U", "action": {"kind": "rpc", "service": "s", "endpoint": "e"}}}, {"name": "C", "action": {"kind": "go"}, "rollback": {"action": {"kind": "await", "topic": "t", "event": "e"}}}]`),
			[]string{
				`$.flows[0].steps[0].rollback: error json: rollback needs a Go method "name" or an "action" (an rpc or a call) [hint: write {"name": "Undo"} for a Go method, or {"action": {"kind": "rpc" or "call", ...}}]`,
				`$.flows[0].steps[1].rollback: error json: rollback has both a Go method "name" and an "action" (an rpc or a call); keep one [hint: write {"name": "Undo"} for a Go method, or {"action": {"kind": "rpc" or "call", ...}}]`,
				`$.flows[0].steps[2].rollback.action.kind: error json: invalid kind "await": expected one of "rpc", "call" [hint: write one of them, such as "kind": "rpc"]`,
			}},
		{"condition shapes", d(`"steps": [{"name": "A", "action": {"kind": "choose", "when": [{"if": {}, "target": "done"}, {"if": {"not": {"field": "X"}, "field": "Y"}, "target": "done"}], "otherwise": "fail"}}]`),
			[]string{
				`$.flows[0].steps[0].action.when[0].if: error json: a condition has exactly one of "field", "and", "or" and "not"; this one has none [hint: write {"field": "Total", "op": ">=", "value": 100}, {"field": "Express"} (a bool field), {"and": [...]}, {"or": [...]} or {"not": {...}}]`,
				`$.flows[0].steps[0].action.when[1].if: error json: a condition has exactly one of "field", "and", "or" and "not"; this one has "not", "field" [hint: give each its own object, and join them with "and" or "or": {"and": [{...}, {...}]}]`,
			}},
		{"hints that write the fix", d(`"timeout": "2d", "retry": {"attempts": "3"}, "steps": [{"name": "A", "action": {"kind": "choose", "when": [{"if": {"field": "X", "op": "=", "value": 1}, "target": "done"}, {"if": {"field": "X", "op": "~", "value": 1}, "target": "done"}], "otherwise": "fail"}}]`),
			[]string{
				`$.flows[0].retry.attempts: error json: expected integer for "attempts", found string [hint: write the number without quotes: "attempts": 3]`,
				`$.flows[0].steps[0].action.when[0].if.op: error json: invalid op "=": expected one of "==", "!=", "<", "<=", ">", ">=" [hint: did you mean "=="?]`,
				`$.flows[0].steps[0].action.when[1].if.op: error json: invalid op "~": expected one of "==", "!=", "<", "<=", ">", ">=" [hint: write a comparison operator as Go writes it, such as "op": ">="]`,
				`$.flows[0].timeout: error json: invalid duration "2d": want Go syntax such as 250ms or 1h30m [hint: durations use Go syntax, which has no days: 2 days is 48h; write "timeout": "48h"]`,
			}},
		{"not an object", `[]`,
			[]string{`$: error json: expected flowgen JSON document object, found array [hint: write a JSON object, {...}: a flowgen JSON document has the fields version, flows]`}},
		{"null optional is absent", d(`"doc": null, "steps": [` + goStep + `]`), nil},
		{"null required is missing", `{"version": 1, "flows": null}`,
			[]string{`$: error json: missing required field "flows" in flowgen JSON document [hint: add "flows": [...] to the flowgen JSON document]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ds := DecodeJSON("t.json", []byte(tt.src))
			ds.Sort()
			var got []string
			for _, d := range ds {
				if d.Range.Start.File != "t.json" {
					t.Errorf("diagnostic without the file name: %v", d)
				}
				got = append(got, format(d))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeJSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeJSONSyntaxErrors(t *testing.T) {
	tests := []struct {
		src, want string
		off       int // the byte offset in src
	}{
		{"{\n  \"version\": 1,\n  \"flows\": [}\n", "t.json:3:13: error: invalid JSON: invalid character '}' looking for beginning of value", 30},
		{"{\"version\": 1, \"flows\": []} []", "t.json:1:29: error: invalid JSON: unexpected data after the top-level value", 28},
		{"", "t.json:1:1: error: invalid JSON: the document is empty", 0},
		{" \n\t", "t.json:1:1: error: invalid JSON: the document is empty", 0},
		{"{\"version\": 1", "t.json:1:14: error: invalid JSON: unexpected end of JSON input", 13},
		{strings.Repeat("[", 100), "t.json:1:65: error: invalid JSON: JSON nested deeper than 64 levels", 64},
		// The position is that of the offending character wherever it
		// is: json.Decoder's Token places some of them bytes before it
		// (x, tru}, \x01) or one past it (not).
		{"{\"version\": x}", "t.json:1:13: error: invalid JSON: invalid character 'x' looking for beginning of value", 12},
		{"{\"version\": tru}", "t.json:1:16: error: invalid JSON: invalid character '}' in literal true (expecting 'e')", 15},
		{"not json", "t.json:1:2: error: invalid JSON: invalid character 'o' in literal null (expecting 'u')", 1},
		{"{\"flows\": [\"a\x01\"]}", "t.json:1:14: error: invalid JSON: invalid character '\\x01' in string literal", 13},
		{"{\"version\": 1 \"flows\": []}", "t.json:1:15: error: invalid JSON: invalid character '\"' after object key:value pair", 14},
		{"{\"version\": 1,}", "t.json:1:15: error: invalid JSON: invalid character '}' looking for beginning of object key string", 14},
		{"{\"version\": tr", "t.json:1:15: error: invalid JSON: unexpected end of JSON input", 14},
		{"{\"flows\": [\"abc", "t.json:1:16: error: invalid JSON: unexpected end of JSON input", 15},
		// Columns count from after a leading byte order mark, as in a
		// .flow file; offsets are those of the file, mark included.
		{"\uFEFF{\n  \"version\": 1,\n  \"flows\": [}\n", "t.json:3:13: error: invalid JSON: invalid character '}' looking for beginning of value", 33},
		{"\uFEFF{\"version\": 1, \"flows\": []} []", "t.json:1:29: error: invalid JSON: unexpected data after the top-level value", 31},
	}
	for _, tt := range tests {
		f, ds := DecodeJSON("t.json", []byte(tt.src))
		if f != nil || len(ds) != 1 {
			t.Errorf("DecodeJSON(%q) = %v, %v; want one error", tt.src, f, ds)
			continue
		}
		if got := ds[0].String(); got != tt.want {
			t.Errorf("DecodeJSON(%q):\n got %s\nwant %s", tt.src, got, tt.want)
		}
		if got := ds[0].Range.Start.Offset; got != tt.off {
			t.Errorf("DecodeJSON(%q): offset %d, want %d", tt.src, got, tt.off)
		}
	}
}

// A document that starts with a byte order mark, which editors on Windows
// write, decodes as it does without one (diag.TextStart, as for .flow files).
func TestDecodeJSONLeadingBOM(t *testing.T) {
	src := doc(flow("F", `"state": "S"`, goStep("A", `"on": [{"on": "ok", "target": "done"}]`)))
	want := decodeOK(t, src)
	got := decodeOK(t, "\uFEFF"+src)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeJSON with a leading BOM (-without +with):\n%s", diff)
	}
}

func TestDecodeJSONKeepsRanges(t *testing.T) {
	f := decodeOK(t, doc(flow("F", `"state": "S"`, goStep("A", `"on": [{"on": "ok", "target": "done"}]`))))
	s := f.Flows[0].Steps[0]
	for got, want := range map[string]string{
		f.Flows[0].NameRange.Start.Path:          "$.flows[0].name",
		f.Flows[0].State.Range.Start.Path:        "$.flows[0].state",
		s.Range.Start.Path:                       "$.flows[0].steps[0]",
		s.Transitions[0].Target.Range.Start.Path: "$.flows[0].steps[0].on[0].target",
	} {
		if got != want {
			t.Errorf("path %q, want %q", got, want)
		}
	}
}

// The field lists of the strict decoder are the json tags of the model:
// for every model struct, the derived list holds exactly the keys
// encoding/json writes for a value with every field set, in declaration
// order, and every kind-dependent list is a subset of it.
func TestJSONFieldsFromTags(t *testing.T) {
	for _, tt := range []struct {
		v      any
		fields []string
	}{
		{&File{}, fileFields},
		{&Flow{}, flowFields},
		{&Trigger{}, triggerFields},
		{&Retry{}, retryFields},
		{&Step{}, stepFields},
		{&Action{}, actionFields},
		{&Rollback{}, rollbackFields},
		{&Publication{}, publicationFields},
		{&Transition{}, transitionFields},
	} {
		v := reflect.ValueOf(tt.v).Elem()
		fillAll(v, 2)
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatalf("%s: %v", v.Type(), err)
		}
		var keys []string
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.Token() // {
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(tt.fields, keys) {
			t.Errorf("%s: decoder's fields %q, encoding/json writes %q", v.Type(), tt.fields, keys)
		}
	}
	// A struct with a field of each kind of tag.
	type sample struct {
		runtime.Trigger
		Plain    int
		Named    int `json:"named,omitempty"`
		Skipped  int `json:"-"`
		Defaults int `json:",omitempty"`
		hidden   int
	}
	_ = sample{}.hidden
	if got, want := jsonFields(reflect.TypeFor[sample]()), []string{"kind", "endpoint", "topic", "event", "schedule", "Plain", "named", "Defaults"}; !slices.Equal(got, want) {
		t.Errorf("jsonFields(sample) = %q, want %q", got, want)
	}
	// The action kinds' fields: TestKindFields.
	for kind, list := range triggerKindFields {
		for _, f := range list {
			if !slices.Contains(triggerFields, f) {
				t.Errorf("%s trigger field %q is not a field of Trigger", kind, f)
			}
		}
	}
}

// fillAll sets every exported field of v to a non-zero value, so that no
// omitempty or omitzero leaves a key out; pointers and slices get one
// filled element, depth levels down.
func fillAll(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		if depth > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fillAll(v.Elem(), depth-1)
		}
	case reflect.Slice:
		if depth > 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			fillAll(v.Index(0), depth-1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), depth)
			}
		}
	}
}

// Every json diagnostic says what to write instead (a hint), and this
// table makes every one of them: each message format of the decoder (its
// errorf calls and diag.Errorf calls of code json, read from its source)
// must match a diagnostic of some document here, so a message added to
// the decoder fails the test until a document here makes it, hint and all.
func TestDecodeJSONHints(t *testing.T) {
	d := func(flowFields string) string {
		return `{"version": 1, "flows": [{"name": "F", ` + flowFields + `}]}`
	}
	st := func(stepFields string) string { return d(`"steps": [{"name": "A", ` + stepFields + `}]`) }
	choose := func(cond string) string {
		return st(`"action": {"kind": "choose", "when": [{"if": ` + cond + `, "target": "done"}], "otherwise": "fail"}`)
	}
	docs := []string{
		`{"version": 1, "flows": [}`,
		`[]`,
		`{"flows": []}`,
		`{"version": "1", "flows": []}`,
		`{"version": 2, "flows": []}`,
		`{"version": 1, "flows": {}}`,
		`{"version": 1, "flows": [], "zzzzzzzz": 1}`,
		`{"version": 1, "flows": [], "flow": 1}`,
		d(`"steps": [], "name": "G"`),
		d(`"steps": [], "doc": "a\u0000b"`),
		d(`"steps": [], "doc": "a\u202eb"`),
		d(`"steps": [], "state": 5`),
		d(`"steps": [], "retry": {"attempts": "3"}`),
		d(`"steps": [], "retry": {"attempts": true}`),
		d(`"steps": [], "retry": {"attempts": 2.5}`),
		d(`"steps": [], "retry": {}`),
		d(`"steps": [], "retry": {"attempts": 2, "multiplier": "2"}`),
		d(`"steps": [], "retry": {"attempts": 2, "multiplier": 1e999}`),
		d(`"steps": [], "retry": {"attempts": 2, "jitter": "ful"}`),
		d(`"steps": [], "retry": {"attempts": 2, "jitter": "zzzz"}`),
		d(`"steps": [], "timeout": 30`),
		d(`"steps": [], "timeout": "10"`),
		d(`"steps": [], "timeout": "2d"`),
		d(`"steps": [], "deadline": "-1s"`),
		d(`"steps": [], "triggers": [{"endpoint": "x"}]`),
		d(`"steps": [], "triggers": [{"kind": "rpc", "endpoint": "x", "schedule": "@daily"}]`),
		d(`"steps": [3]`),
		st(`"action": {"kind": "go"}, "irreversible": "yes"`),
		st(`"action": {"kind": "go"}, "outcomes": [1]`),
		st(`"action": {"kind": "go"}, "rollback": {}`),
		st(`"action": {"kind": "go"}, "rollback": {"name": "U", "action": {"kind": "rpc", "service": "s", "endpoint": "e"}}`),
		st(`"action": {"kind": "go"}, "rollback": {"action": {"kind": "await"}}`),
		st(`"action": {"kind": "rpc"}`),
		st(`"action": {"kind": "sleep", "duration": "1h", "topic": "t"}`),
		st(`"action": {"kind": "await", "topic": "t", "event": "e", "timeout": 5}`),
		st(`"action": {"kind": "lambda"}`),
		st(`"action": {"kind": "choose", "when": [{"target": "done"}], "otherwise": "fail"}`),
		choose(`{}`),
		choose(`{"not": {"field": "X"}, "field": "Y"}`),
		choose(`{"and": [{"field": "X"}]}`),
		choose(`{"field": "X", "op": "=", "value": 1}`),
		choose(`{"field": "X", "op": "~", "value": 1}`),
		choose(`{"field": "X", "value": 1}`),
		choose(`{"field": "X", "op": "=="}`),
		choose(`{"field": "X", "op": "==", "value": 1, "duration": "1s"}`),
		choose(`{"field": "X", "op": "==", "value": [1]}`),
		d(`"steps": [{"name": "P", "parallel": {"branches": [{"name": "A", "action": {"kind": "go"}, "writes": [1]}]}, "retry": {"attempts": 2}}]`),
		d(`"steps": [{"name": "P", "parallel": {"branches": [{"name": "A", "parallel": {"branches": []}}]}}]`),
	}
	var msgs []string
	for _, src := range docs {
		_, ds := DecodeJSON("t.json", []byte(src))
		if len(ds) == 0 {
			t.Errorf("DecodeJSON(%s): no diagnostic; want at least one", src)
		}
		for _, d := range ds {
			if d.Code == "json" && d.Hint == "" {
				t.Errorf("DecodeJSON(%s): json diagnostic without a hint: %s", src, format(d))
			}
			msgs = append(msgs, d.Message)
		}
	}
	for _, f := range jsonMessageFormats(t) {
		re := regexp.MustCompile("^" + regexp.QuoteMeta(f) + "$")
		re = regexp.MustCompile(strings.NewReplacer(`%s`, `.*`, `%q`, `.*`, `%d`, `.*`, `%v`, `.*`, `U\+%04X`, `.*`).Replace(re.String()))
		if !slices.ContainsFunc(msgs, re.MatchString) {
			t.Errorf("no document of the table gets the message %q: add one", f)
		}
	}
}

// jsonMessageFormats reads the message formats of the JSON decoder's
// diagnostics from its source: the format of each errorf call, and of
// each diag.Errorf call of code json.
func jsonMessageFormats(t *testing.T) []string {
	var out []string
	for _, file := range []string{"json.go", "jsonobj.go", "jsontree.go", "parallel_json.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			arg := -1
			switch x, _ := sel.X.(*ast.Ident); {
			case sel.Sel.Name == "errorf" && len(call.Args) >= 2:
				arg = 1
			case x != nil && x.Name == "diag" && sel.Sel.Name == "Errorf" && len(call.Args) >= 3:
				if code, ok := call.Args[1].(*ast.BasicLit); ok && code.Value == `"json"` {
					arg = 2
				}
			}
			if arg < 0 {
				return true
			}
			if _, ok := call.Args[arg].(*ast.Ident); ok {
				return true // errorf itself, handing its format on
			}
			lit, ok := call.Args[arg].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: a message format that is not a literal", file)
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
			return true
		})
	}
	if len(out) < 25 {
		t.Fatalf("found %d message formats in the decoder's source; want them all", len(out))
	}
	return out
}
