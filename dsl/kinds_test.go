package dsl

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestKindFields checks the table's fields against Action: every
// ActionField is a JSON field of Action with one accessor that reaches
// the field of that name, every field of Action but "kind" is an
// ActionField, and no kind names a field twice.
func TestKindFields(t *testing.T) {
	for _, name := range actionFields {
		if name == "kind" {
			continue
		}
		if _, ok := fieldAccess[ActionField(name)]; !ok {
			t.Errorf("Action's JSON field %q is not an ActionField of fieldAccess", name)
		}
	}
	for f, acc := range fieldAccess {
		n := 0
		a := &Action{}
		if acc.str != nil {
			n++
			*acc.str(a) = "x"
		}
		if acc.id != nil {
			n++
			*acc.id(a) = &Ident{Name: "x"}
		}
		if acc.dur != nil {
			n++
			*acc.dur(a) = 1
		}
		if acc.branches != nil {
			n++
			*acc.branches(a) = []*Branch{{When: &Cond{Op: CondField, Field: &Ident{Name: "X"}}, Target: &Ident{Name: "x"}}}
		}
		if n != 1 {
			t.Errorf("field %q has %d accessors, want 1", f, n)
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		delete(got, "kind")
		if _, ok := got[string(f)]; !ok || len(got) != 1 {
			t.Errorf("the accessor of field %q sets %s", f, b)
		}
	}
	for _, k := range Kinds() {
		var seen []ActionField
		for _, f := range k.Fields {
			if slices.Contains(seen, f.Field) {
				t.Errorf("kind %s has field %q twice", k.Kind, f.Field)
			}
			seen = append(seen, f.Field)
			if f.Role != "" && fieldAccess[f.Field].id == nil {
				t.Errorf("kind %s: field %q has role %q but does not name a state field", k.Kind, f.Field, f.Role)
			}
		}
	}
}

// TestKindTable checks what the rest of flowgen assumes of the table.
func TestKindTable(t *testing.T) {
	seen := map[ActionKind]bool{}
	for _, k := range Kinds() {
		if k.Kind == "" || seen[k.Kind] {
			t.Errorf("kind %q is empty or listed twice", k.Kind)
		}
		seen[k.Kind] = true
		if got, ok := LookupKind(k.Kind); !ok || got != k {
			t.Errorf("LookupKind(%q) does not find its entry", k.Kind)
		}
		if k.Noun == "" || k.Label == nil {
			t.Errorf("kind %s has no Noun or Label", k.Kind)
		}
		// A kind the user implements has no action line; every other
		// kind is written with its keyword.
		if k.Handler != (k.Keyword == "") {
			t.Errorf("kind %s: Handler %v but keyword %q", k.Kind, k.Handler, k.Keyword)
		}
	}
	if s := (*Action)(nil).Spec(); s.Kind != ActionGo {
		t.Errorf("a nil action is a %s step, want a Go step", s.Kind)
	}
	if s := SpecOf("teleport"); s.Kind != "teleport" || s.Waits || !s.SideEffects || len(s.Fields) != 0 {
		t.Errorf("SpecOf of an unknown kind = %+v", s)
	}
}

func TestNeedsOptions(t *testing.T) {
	got := (NeedCaller | NeedPublisher | NeedSubscriber).Options()
	want := []string{"runtime.WithCaller (rpc)", "runtime.WithPublisher (publish)", "runtime.WithSubscriber (await)"}
	if !slices.Equal(got, want) {
		t.Errorf("Options() = %q, want %q", got, want)
	}
	if got := Needs(0).Options(); len(got) != 0 {
		t.Errorf("no needs: %q", got)
	}
}
