package gocheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// The fields of choose conditions are checked against the state's Go
// types: each literal against its field, as the generated comparison will
// compile, at the literal's .flow position.
func TestConditionTypes(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

import "time"

type Tier string

type Flag bool

type RouteState struct {
	Name    string
	Tier    Tier
	Total   int
	Small   int8
	Count   uint
	Price   float64
	Ratio   float32
	Vip     Flag
	Express bool
	Age     time.Duration
	At      time.Time
	secret  bool
}
`,
	})
	src := `flow Route {
    state RouteState
    step Route {
        choose {
            when Name == "a" and Tier != "gold" and Total >= -3 and Price < 2.5 and Express and Age > 1h and Express == false -> done
            when Count > 3 and Small <= 127 and not Express -> done
            when Name == 3 -> done
            when Total > "many" -> done
            when Total > 1.5 -> done
            when Count > -1 -> done
            when Small > 128 -> done
            when Age > 5 -> done
            when Total -> done
            when At > 1h -> done
            when Tier == true -> done
            when Nmae == "x" or secret -> done
            when Vip -> done
            when Vip == true and Ratio > 340282356779733661637539395458142568448 -> done
            when Ratio < 340282346638528859811704183484516925440 -> done
            when Age < "24h" or Total >= "500" -> done
            when Name or Age -> done
            when At -> done
            when Ratio > 0.1 and Ratio < 16777216 and Ratio >= -2.5 and Price < 0.3 and Ratio > 0.000000000000000000000000000000000000000000001 -> done
            when Ratio == 16777217 -> done
            when Ratio > 0.10000000149011612 or Price > 0.10000000000000001 -> done
            when Ratio > 0.00000000000000000000000000000000000000000000000001 -> done
            otherwise -> fail
        }
    }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		`7:26: error cond-type: condition on "Name" compares a field of type string with the number 3 [hint: compare a string field with a string in double quotes, such as ` + "`" + `Name == "3"` + "`" + `]`,
		`8:26: error cond-type: condition on "Total" compares a field of type int with the string "many" [hint: compare a number field with a number, such as ` + "`" + `Total >= 100` + "`" + `]`,
		`9:26: error cond-type: condition on "Total": 1.5 is not a whole number, and "Total" has type int [hint: compare an integer field with a whole number, or make the field a float64]`,
		`10:26: error cond-type: condition on "Count": -1 is negative, and "Count" has unsigned type uint [hint: compare with zero or more, or make the field signed]`,
		`11:26: error cond-type: condition on "Small": 128 overflows "Small", of type int8 [hint: compare with a number the field's type can hold]`,
		`12:24: error cond-type: condition on "Age" compares a field of type time.Duration with the number 5 [hint: compare a time.Duration with a duration, such as ` + "`" + `Age > 90m` + "`" + `]`,
		`13:18: error cond-type: condition "Total": field "Total" has type int, not bool [hint: a field alone is a condition only when it is a bool; compare it with a number, such as ` + "`" + `Total > 0` + "`" + `]`,
		`14:23: error cond-type: condition on "At" compares a field of type time.Time with the duration 1h [hint: conditions compare strings, numbers, bools and time.Durations; At has type time.Time]`,
		`15:26: error cond-type: condition on "Tier" compares a field of type Tier with the bool true [hint: compare a string field with a string in double quotes, such as ` + "`" + `Tier == "true"` + "`" + `]`,
		`16:18: error state-field: state type "RouteState" has no field "Nmae" [hint: did you mean "Name"?]`,
		`16:33: error state-field-unexported: state field "secret" is unexported: run snapshots are JSON, so a resumed run would lose it [hint: export the field, for example as "Secret"]`,
		`17:18: error cond-type: condition "Vip": field "Vip" has the named type Flag: a field alone is a condition only when it is a plain bool [hint: compare it with a value instead, such as ` + "`" + `Vip == true` + "`" + `]`,
		`18:42: error cond-type: condition on "Ratio": 340282356779733661637539395458142568448 overflows "Ratio", of type float32 [hint: compare with a number the field's type can hold]`,
		`19:26: error cond-type: condition on "Ratio": 340282346638528859811704183484516925440 is not a float32 as Go writes one (the nearest is 340282350000000000000000000000000000000), and "Ratio" has type float32 [hint: write 340282350000000000000000000000000000000: the generated code rounds the number to the nearest float32, the flow service compares the state's number with it exactly]`,
		`20:24: error cond-type: condition on "Age" compares a field of type time.Duration with the string "24h" [hint: a duration is written without quotes: ` + "`" + `Age < 24h` + "`" + `]`,
		`20:42: error cond-type: condition on "Total" compares a field of type int with the string "500" [hint: a number is written without quotes: ` + "`" + `Total >= 500` + "`" + `]`,
		`21:18: error cond-type: condition "Name": field "Name" has type string, not bool [hint: a field alone is a condition only when it is a bool; compare it with a string, such as ` + "`" + `Name != ""` + "`" + `]`,
		`21:26: error cond-type: condition "Age": field "Age" has type time.Duration, not bool [hint: a field alone is a condition only when it is a bool; compare it with a duration, such as ` + "`" + `Age > 0s` + "`" + `]`,
		`22:18: error cond-type: condition "At": field "At" has type time.Time, not bool [hint: a field alone is a condition only when it is a bool, and conditions compare strings, numbers, bools and time.Durations; At has type time.Time]`,
		`24:27: error cond-type: condition on "Ratio": 16777217 is not a float32 as Go writes one (the nearest is 16777216), and "Ratio" has type float32 [hint: write 16777216: the generated code rounds the number to the nearest float32, the flow service compares the state's number with it exactly]`,
		`25:26: error cond-type: condition on "Ratio": 0.10000000149011612 is not a float32 as Go writes one (the nearest is 0.1), and "Ratio" has type float32 [hint: write 0.1: the generated code rounds the number to the nearest float32, the flow service compares the state's number with it exactly]`,
		`25:57: error cond-type: condition on "Price": 0.10000000000000001 is not a float64 as Go writes one (the nearest is 0.1), and "Price" has type float64 [hint: write 0.1: the generated code rounds the number to the nearest float64, the flow service compares the state's number with it exactly]`,
		`26:26: error cond-type: condition on "Ratio": 0.00000000000000000000000000000000000000000000000001 is not a float32 as Go writes one (the nearest is 0), and "Ratio" has type float32 [hint: write 0: the generated code rounds the number to the nearest float32, the flow service compares the state's number with it exactly]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// A condition's members are looked up as a Go selector looks them up
// (through a pointer, into embedded structs), each bad one reported at its
// own position, naming it and the type it was looked up in; the last
// member's type is checked against the literal as a field's is.
func TestConditionMembers(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type RouteState struct {
	Customer *Customer
	Order    Order
	Name     string
	Tags     map[string]string
	Broken   Broken
}

type Customer struct {
	Tier string
	*Account
	Left
	Right
	note string
	Skip bool ` + "`json:\"-\"`" + `
}

type Account struct{ Blocked bool }

type Left struct{ Both int }

type Right struct{ Both int }

func (Customer) Score() int { return 0 }

type Order struct {
	Total float64
	Lines *Lines
}

type Lines struct{ Count uint8 }

type Broken struct{ Missing Undefined }
`,
	})
	src := `flow Route {
    state RouteState
    step Route {
        choose {
            when Customer.Tier == "gold" and Customer.Blocked and Order.Lines.Count > 3 -> done
            when Customer.Tierr == "gold" -> done
            when Name.Length > 3 -> done
            when Order.Lines.Count > -1 -> done
            when Customer.Tier == 3 -> done
            when Customer.Both > 1 or Customer.Score > 1 -> done
            when Customer.note == "" or Customer.Skip -> done
            when Tags.Key == "x" -> done
            when Order.Total -> done
            when Custmer.Tier == "x" -> done
            when Broken.Missing.Deep == 1 -> done
            otherwise -> fail
        }
    }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		`6:27: error state-field: condition "Customer.Tierr": Customer (type Customer) has no field "Tierr" [hint: did you mean "Tier"?]`,
		`7:23: error state-field: condition "Name.Length" reads member "Length" of Name, which has type string: only a struct has members [hint: read a member of a struct field (or of a pointer to one); Name is compared itself: ` + "`" + `when Name ...` + "`" + `]`,
		`8:38: error cond-type: condition on "Order.Lines.Count": -1 is negative, and "Order.Lines.Count" has unsigned type uint8 [hint: compare with zero or more, or make the field signed]`,
		`9:35: error cond-type: condition on "Customer.Tier" compares a field of type string with the number 3 [hint: compare a string field with a string in double quotes, such as ` + "`" + `Customer.Tier == "3"` + "`" + `]`,
		`10:27: error state-field: condition "Customer.Both": field "Both" of Customer (type Customer) is promoted from two embedded types at one depth, so Go selects neither [hint: name the embedded field too: Customer.<Embedded>.Both]`,
		`10:48: error state-field: condition "Customer.Score": "Score" is a method of Customer (type Customer), not a field [hint: name a field of Customer]`,
		`11:27: error state-field-unexported: condition "Customer.note": field "note" of Customer (type Customer) is unexported: run snapshots and the JSON engine carry the state as JSON, which drops it, so it would read as zero there [hint: export the field, for example as "Note"]`,
		`11:50: error state-field-unexported: condition "Customer.Skip": field "Skip" of Customer (type Customer) is tagged ` + "`json:\"-\"`" + `: run snapshots and the JSON engine carry the state as JSON, which drops it, so it would read as zero there [hint: remove the ` + "`json:\"-\"`" + ` tag]`,
		`12:23: error state-field: condition "Tags.Key" reads member "Key" of Tags, which has type map[string]string: only a struct has members [hint: read a member of a struct field (or of a pointer to one); Tags is compared itself: ` + "`" + `when Tags ...` + "`" + `]`,
		`13:18: error cond-type: condition "Order.Total": field "Order.Total" has type float64, not bool [hint: a field alone is a condition only when it is a bool; compare it with a number, such as ` + "`" + `Order.Total > 0` + "`" + `]`,
		`14:18: error state-field: state type "RouteState" has no field "Custmer" [hint: did you mean "Customer"?]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// A member promoted through an unexported embedded pointer of another
// package cannot be checked for nil by the generated code, which cannot
// name the embedded field: an error, rather than code that does not
// compile. Through an exported one it is fine.
func TestConditionMemberUnnameable(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

import "example.com/m/other"

type RouteState struct {
	Customer other.Customer
}
`,
	})
	if err := os.Mkdir(filepath.Join(dir, "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := `package other

type account struct{ Blocked bool }

type Profile struct{ Vip bool }

type Customer struct {
	*account
	*Profile
	Tier string
}
`
	if err := os.WriteFile(filepath.Join(dir, "other", "other.go"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `flow Route {
    state RouteState
    step Route {
        choose {
            when Customer.Tier == "gold" and Customer.Vip -> done
            when Customer.Blocked -> done
            otherwise -> fail
        }
    }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		`6:27: error state-field: condition "Customer.Blocked": field "Blocked" of Customer (type example.com/m/other.Customer) is promoted through an unexported embedded field of another package and then a pointer, which the generated code cannot name to check it for nil [hint: embed that struct by value, or export the embedded type, or copy the member into a field of the state in a step before the choose]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// A JSON flow's number may have an exponent: a float field's literal is
// checked as the flow service compares it, exactly. 1e-999999999 is 0 to
// go/constant, and so to the generated code, but above 0 to the service;
// an exponent beyond go/constant's (1e999999999) is left to the condition
// check, which refuses a number beyond float64, and 12.50e-1 is 1.25.
// An integer field's 1e-999999999 is not 0 either, and 3e2 is 300.
func TestConditionTypesJSONExponents(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod":   "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\ntype S struct {\n\tRatio float32\n\tTotal int\n}\n",
	})
	cond := func(field, value string) string {
		return `{"if": {"field": "` + field + `", "op": "==", "value": ` + value + `}, "target": "done"}`
	}
	src := `{"version": 1, "flows": [{"name": "F", "state": "S", "steps": [{"name": "R", "action": {"kind": "choose", "when": [` +
		strings.Join([]string{cond("Ratio", "1e-999999999"), cond("Ratio", "1e999999999"), cond("Total", "1e999999999"),
			cond("Ratio", "12.50e-1"), cond("Ratio", "1E2"), cond("Ratio", "16777217e0"), cond("Total", "1e-999999999"), cond("Total", "25e-1"), cond("Total", "3e2")}, ", ") +
		`], "otherwise": "fail"}}]}]}`
	_, ds := flowfile.Load("t.json", []byte(src), dsl.CheckOptions{
		GoPackage: func(f *dsl.File) diag.List { return Check(f, dir) },
	})
	var got []string
	for _, d := range ds {
		got = append(got, d.Code+": "+d.Message)
	}
	slices.Sort(got)
	want := []string{
		`cond-type: condition on "Ratio": 16777217e0 is not a float32 as Go writes one (the nearest is 16777216), and "Ratio" has type float32`,
		`cond-type: condition on "Ratio": 1e-999999999 is not a float32 as Go writes one (the nearest is 0), and "Ratio" has type float32`,
		`cond-type: condition on "Total": 1e-999999999 is not a whole number, and "Total" has type int`,
		`cond-type: condition on "Total": 25e-1 is not a whole number, and "Total" has type int`,
		`condition: Ratio == 1e999999999 in step "R" compares with a number beyond the range of float64`,
		`condition: Total == 1e999999999 in step "R" compares with a number beyond the range of float64`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
