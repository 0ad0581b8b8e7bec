package provider

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// DecodeStrict takes one JSON object and nothing else: null would decode
// into the struct as nothing at all, and the engine would take a handler
// that returned nothing for one that succeeded.
var oneObjectCases = []struct{ in, err string }{
	{` {"outcome": "ok"} `, ""},
	{`{"state": {"A": 1}}`, ""},
	{`null`, "not a JSON object"},
	{" \n null", "not a JSON object"},
	{`[]`, "not a JSON object"},
	{`"ok"`, "not a JSON object"},
	{``, "no JSON object: the body is empty"},
	{" \n", "no JSON object: the body is empty"},
	// A body that is not JSON says where, as PUT /flows does.
	{`{"outcome": "ok",}`, `invalid JSON at line 1, column 18: invalid character '}'`},
	{"{\n \"outcome\": \"ok\"\n \"state\": {}}", `invalid JSON at line 3, column 2: invalid character '"' after object key:value pair`},
	{`{"outcome": "ok"`, `invalid JSON: the body ends, at line 1, column 17, before its object does`},
	{`{"outcome": "ok"} {}`, "data after the JSON value"},
	{`{"outcome": "ok", "x": 1}`, `unknown member "x"`},
	// A proxy's page instead of the provider's answer, or a registration
	// that is not JSON at all, says where its JSON goes wrong too, not
	// only that it is no object; JSON of another type says which.
	{`<html><body>502 Bad Gateway</body></html>`, `invalid JSON at line 1, column 1: invalid character '<' looking for beginning of value`},
	{"\n\n  Bad Gateway", `invalid JSON at line 3, column 3: invalid character 'B' looking for beginning of value`},
	{`[] x`, `data after the JSON value, at line 1, column 4`},
	{`null`, "not a JSON object: found null"},
	{`[1]`, "not a JSON object: found an array"},
	{`"ok"`, "not a JSON object: found a string"},
	{` 7`, "not a JSON object: found a number"},
	{`false`, "not a JSON object: found a boolean"},
	// What follows the object is placed, as an error inside it is.
	{"{\"outcome\": \"ok\"}\n<html>", "data after the JSON value, at line 2, column 1"},
}

func TestDecodeStrictWantsOneObject(t *testing.T) {
	for _, tc := range oneObjectCases {
		var rsp Response
		err := DecodeStrict([]byte(tc.in), &rsp)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("DecodeStrict(%q): %v, want %q", tc.in, err, tc.err)
		}
	}
}

// A member's null is its absence (docs/engine.md#remote-providers): an
// answer of {"outcome": null, "error": null} is ok, with no error and the
// state left as it was, not a failure or an unknown outcome.
func TestDecodeStrictNullMembersAreAbsent(t *testing.T) {
	var rsp Response
	if err := DecodeStrict([]byte(`{"state": null, "outcome": null, "error": null}`), &rsp); err != nil {
		t.Fatal(err)
	}
	if err := rsp.Check(); err != nil {
		t.Fatal(err)
	}
	if rsp.Error != nil || rsp.Outcome != "" || len(rsp.State) != 0 && string(rsp.State) != "null" {
		t.Fatalf("null members decoded to %+v, want an ok answer", rsp)
	}
}

// CheckJSON says of a body that is not one JSON value, of any type, what
// DecodeStrict says of it: the engine's start of a run answers it.
func TestCheckJSON(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{` {"a": 1} `, ""},
		{`null`, ""},
		{`[1, "x"]`, ""},
		{``, "no JSON object: the body is empty"},
		{"{\n \"a\": 1,}", `invalid JSON at line 2, column 9: invalid character '}' looking for beginning of object key string`},
		{`{"a": 1`, `invalid JSON: the body ends, at line 1, column 8, before its object does`},
		{`[1, `, `invalid JSON: the body ends, at line 1, column 5, before its value does`},
		{`{} {}`, "data after the JSON value, at line 1, column 4"},
	} {
		err := CheckJSON([]byte(tc.in))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
			t.Errorf("CheckJSON(%q): %v, want %q", tc.in, err, tc.err)
		}
	}
}

// Member names are the protocol's as written, each once: encoding/json
// alone would take "Outcome" for "outcome", and the last of two, which the
// docs' "unknown members are an error" does not let through. A state's
// own members are the run's, any case.
var exactNameCases = []struct{ in, err string }{
	{`{"state": {"a": 1, "A": 2, "Outcome": 3}, "outcome": "ok"}`, ""},
	{`{"error": {"message": "m", "class": "permanent"}}`, ""},
	{`{"st\u0061te": {}}`, ""}, // an escape spells the same name
	{" {\n \"state\" :\t{\"a\": \"}\\\"],\", \"b\": [1, {\"c\": []}, -2e3], \"d\": true} ,\"outcome\":\"ok\" } ", ""},
	{`{"state":{"x":[{"outcome":1}]},"error":null,"outcome":"ok"}`, ""},
	{`{"state": {"a": "\"Outcome\": 1"}, "Outcome": "ok"}`, `unknown member "Outcome"`},
	{`{"error": {"message": "m", "class": "permanent", "message": "n"}}`, `error: member "message" given twice`},
	{`{"Outcome": "lost"}`, `unknown member "Outcome" (names are case-sensitive)`},
	{`{"STATE": {"a": 1}}`, `unknown member "STATE"`},
	{`{"error": {"Message": "m"}}`, `error: unknown member "Message"`},
	{`{"state": {"a": 1}, "state": null}`, `member "state" given twice`},
}

var registrationNameCases = []struct{ in, err string }{
	{`{"ttl": "30s", "handlers": [{"name": "R", "url": "http://h/r", "outcomes": ["x"]}]}`, ""},
	{`{"Handlers": [{"name": "R", "url": "http://h/r"}]}`, `unknown member "Handlers"`},
	{`{"handlers": [{"name": "R", "url": "http://h/r"}, {"Name": "S"}]}`, `handlers[1]: unknown member "Name"`},
	{`{"handlers": [], "TTL": "1h"}`, `unknown member "TTL"`},
	// A member no name of the type spells in any case is named by its
	// path too, in JSON's words, not `json: unknown field "foo"`
	// wherever it is.
	{`{"handlers": [{"name": "R", "url": "http://h/r"}, {"name": "S", "foo": 1}]}`, `handlers[1]: unknown member "foo"`},
	{`{"ttl": "30s", "replica": "r1", "handlers": []}`, `unknown member "replica"`},
}

func TestDecodeStrictExactNames(t *testing.T) {
	for _, tc := range exactNameCases {
		var rsp Response
		err := DecodeStrict([]byte(tc.in), &rsp)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("DecodeStrict(%q): %v, want %q", tc.in, err, tc.err)
		}
	}
	for _, tc := range registrationNameCases {
		var reg Registration
		err := DecodeStrict([]byte(tc.in), &reg)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("DecodeStrict(%q) into a Registration: %v, want %q", tc.in, err, tc.err)
		}
	}
}

// DecodeStrict takes any of the protocol's messages, the engine's own
// included: a hand-written provider may read a Request so, and its
// deadline, a time.Time, is a JSON string that time.Time decodes itself.
// exactNames took time.Time for a struct of members and panicked on the
// string (slice bounds out of range), for every call with a deadline.
func TestDecodeStrictUnmarshalerMembers(t *testing.T) {
	var req Request
	in := `{"version":1,"run_id":"r","flow":"F","step":"S","handler":"S","idempotency_key":"k","attempt":1,"deadline":"2026-12-03T19:00:00Z","state":{}}`
	if err := DecodeStrict([]byte(in), &req); err != nil || req.Deadline == nil {
		t.Fatalf("DecodeStrict(Request): %v, deadline %v", err, req.Deadline)
	}
	if err := DecodeStrict([]byte(`{"version":1,"Deadline":"2026-12-03T19:00:00Z"}`), &req); err == nil || !strings.Contains(err.Error(), `unknown member "Deadline"`) {
		t.Errorf("DecodeStrict(Request with Deadline): %v, want unknown member", err)
	}
	var l Lease
	if err := DecodeStrict([]byte(`{"provider":"p","ttl":"30s","expires":"2026-12-03T19:00:00Z","handlers":[{"name":"R","url":"http://h/r"}]}`), &l); err != nil {
		t.Errorf("DecodeStrict(Lease): %v", err)
	}
}

// A handler's answer carries the call's state, and what it sets, as
// large as they came: <, > and & are not escaped as \u003c (six bytes
// for one), which made an answer to a call of a few MiB of HTML larger
// than the engine takes (16 MiB), and a state that grew sixfold at each
// provider it went through.
func TestHandleKeepsStateSize(t *testing.T) {
	p := New(Options{Name: "p"})
	p.Step("S", func(ctx context.Context, c *Call) (string, error) {
		return "", c.Set("Set", "<b>&</b>")
	})
	page := strings.Repeat("<", 1<<20)
	out := p.Handle(context.Background(), []byte(`{"version": 1, "handler": "S", "state": {"Page": "`+page+`"}}`))
	var rsp Response
	if err := DecodeStrict(out, &rsp); err != nil || rsp.Error != nil {
		t.Fatalf("answer: %v %+v", err, rsp.Error)
	}
	if want := `{"Page":"` + page + `","Set":"<b>&</b>"}`; string(rsp.State) != want {
		t.Errorf("answered a state of %d bytes, want %d: %.80s...", len(rsp.State), len(want), rsp.State)
	}
}

// A value of another type than its member's is named by its JSON path and
// JSON types, never by encoding/json's Go struct field and type names,
// which a provider in another language cannot act on.
func TestDecodeStrictTypeErrorsNameJSON(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"ttl": 30}`, `ttl: expected string, found number`},
		{`{"handlers": {}}`, `handlers: expected array, found object`},
		{`{"handlers": [3]}`, `handlers[0]: expected object, found number`},
		{`{"handlers": [{"name": "R"}, {"name": "S", "outcomes": ["x", 1]}]}`, `handlers[1].outcomes[1]: expected string, found number`},
		{`{"handlers": [{"name": "R", "rollback": "yes"}]}`, `handlers[0].rollback: expected boolean, found string`},
		{` {"handlers": [{"name": true}]}`, `handlers[0].name: expected string, found boolean`},
	} {
		var reg Registration
		err := DecodeStrict([]byte(tc.in), &reg)
		if err == nil || err.Error() != tc.err {
			t.Errorf("DecodeStrict(%s): %v, want %q", tc.in, err, tc.err)
		}
	}
	for _, tc := range []struct{ in, err string }{
		{`{"error": {"message": 7}}`, `error.message: expected string, found number`},
		{`{"state": {}, "outcome": ["ok"]}`, `outcome: expected string, found array`},
		{`{"version": 1.5}`, `version: expected integer (in range), found number 1.5`},
	} {
		var msg struct {
			Response
			Version int `json:"version"`
		}
		err := DecodeStrict([]byte(tc.in), &msg)
		if err == nil || err.Error() != tc.err {
			t.Errorf("DecodeStrict(%s): %v, want %q", tc.in, err, tc.err)
		}
	}
}

// exactNames reads every provider answer and every start state of a
// generated flow: the path its errors name is written when one is, not
// for each member and element of a valid document, so that an array of
// numbers is read without an allocation per element.
func TestExactNamesBuildsNoPathWhenValid(t *testing.T) {
	type order struct {
		Qty []int `json:"qty"`
	}
	typ := reflect.TypeFor[order]()
	allocs := func(n int) float64 {
		doc := []byte(`{"qty": [` + strings.Repeat(`1, `, n-1) + `1]}`)
		if err := exactNames(doc, typ); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(20, func() { _ = exactNames(doc, typ) })
	}
	if few, many := allocs(10), allocs(1000); many > few {
		t.Errorf("%v allocations for 1000 elements, %v for 10: the path is written for each", many, few)
	}
}

// An answer's error class that is not one is quoted by its start: whole,
// a provider's class of up to 16 MiB went into the run's history, past
// MaxProviderErrorBytes, and into the engine's log line of the refused
// answer.
func TestResponseCheckQuotesClassCut(t *testing.T) {
	r := Response{Error: &Error{Message: "m", Class: "fatal" + strings.Repeat("x", 1<<20)}}
	err := r.Check()
	if err == nil {
		t.Fatal("Check() = nil, want an error")
	}
	if msg := err.Error(); len(msg) > 200 || !strings.HasPrefix(msg, `error class "fatalxxx`) {
		t.Fatalf("Check() = %.300s (%d bytes), want the class's start, under 200 bytes", msg, len(msg))
	}
}
