package runtime

import (
	"encoding/json"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, k := range []Key{
		{RunID: "r1", Step: "Charge", Visit: 1},
		{RunID: "r1", Step: "Charge", Visit: 3},
		{RunID: "tenant/r1", Step: "Charge", Visit: 2, Rollback: true},
		{RunID: "e-12", Step: "A", Visit: 1, Rollback: true},
	} {
		s := k.String()
		got, ok := ParseKey(s)
		if !ok || got != k {
			t.Errorf("ParseKey(%q) = %+v, %v; want %+v", s, got, ok, k)
		}
	}
	if s := (Key{RunID: "r", Step: "S", Visit: 1}).String(); s != "r/S" {
		t.Errorf("first visit key = %q, want r/S", s)
	}
	for _, bad := range []string{"", "r", "/S", "r/", "r/S#1", "r/S#x", "r/#2", "r/S#02", "r/S#+2"} {
		if k, ok := ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) = %+v, want failure", bad, k)
		}
	}
}

func TestCorrelation(t *testing.T) {
	cases := []struct {
		payload, path, want string
		ok                  bool
	}{
		{`{"correlation_id":"c1"}`, "", "c1", true},
		{`{"correlation_id":42}`, "", "42", true},
		{`{"order_id":"o-9","correlation_id":"x"}`, "order_id", "o-9", true},
		{`{"payment":{"order":{"id":"o-7"}}}`, "payment.order.id", "o-7", true},
		{`{"payment":{"order":"o-7"}}`, "payment.order.id", "", false},
		{`{"other":1}`, "", "", false},
		{`[1,2]`, "", "", false},
		{`not json`, "x", "", false},
		// null is not a string: it is compared as written, so an event
		// whose member is null never wakes a run whose value is "".
		{`{"order_id":null}`, "order_id", "null", true},
		{`{"order_id": "o\u0031"}`, "order_id", "o1", true},
		{`{"order_id": true}`, "order_id", "true", true},
		{`{"n":  42 , "m": 1}`, "n", "42", true},
	}
	for _, c := range cases {
		got, ok := Correlation([]byte(c.payload), c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("Correlation(%s, %q) = %q, %v; want %q, %v", c.payload, c.path, got, ok, c.want, c.ok)
		}
	}
	if !Correlates([]byte(`{"order_id":"o"}`), "order_id", "o") || Correlates([]byte(`{"order_id":"o"}`), "", "o") {
		t.Error("Correlates does not follow its path")
	}
	if Correlates([]byte(`{"order_id":null}`), "order_id", "") {
		t.Error(`a null member correlates with the empty value`)
	}
}

// The child run IDs docs/language.md ("A run of its own", "Rollback")
// gives for a call step Bill of run o-1.
func TestChildRunIDDocumented(t *testing.T) {
	for _, c := range []struct {
		key     Key
		attempt int
		want    string
	}{
		{Key{RunID: "o-1", Step: "Bill", Visit: 1}, 1, "o-1@Bill"},
		{Key{RunID: "o-1", Step: "Bill", Visit: 2}, 1, "o-1@Bill:2"},
		{Key{RunID: "o-1", Step: "Bill", Visit: 1, Rollback: true}, 1, "o-1@Bill:rollback"},
		{Key{RunID: "o-1", Step: "Bill", Visit: 1, Rollback: true}, 2, "o-1@Bill:rollback:2"},
	} {
		if got := ChildRunID(c.key, c.attempt); got != c.want {
			t.Errorf("ChildRunID(%+v, %d) = %q, want %q", c.key, c.attempt, got, c.want)
		}
	}
}

// TestCorrelationValue: a generated await's value of a field is the text
// its JSON encoding compares as (CorrelationText), the rule of an event's
// member and of a JSON flow's field, for every kind a field may have.
func TestCorrelationValue(t *testing.T) {
	type ID string
	type Num int16
	check := func(got string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if want := CorrelationText(b); got != want {
			t.Errorf("CorrelationValue(%#v) = %q, want %q (the CorrelationText of %s)", v, got, want, b)
		}
	}
	check(CorrelationValue("o-1"), "o-1")
	check(CorrelationValue(""), "")
	check(CorrelationValue(ID(`a"b`)), ID(`a"b`))
	check(CorrelationValue(true), true)
	check(CorrelationValue(int64(-42)), int64(-42))
	check(CorrelationValue(Num(7)), Num(7))
	check(CorrelationValue(uint64(1<<63)), uint64(1<<63))
	check(CorrelationValue(uint8(200)), uint8(200))
	if got, ok := Correlation([]byte(`{"order_id": 42}`), "order_id"); !ok || got != CorrelationValue(42) {
		t.Errorf("member 42 compares as %q, a field holding 42 as %q", got, CorrelationValue(42))
	}
}
