package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

var seeds = []string{
	`{}`, `[]`, `0`, `-1.5e+10`, `"a"`, `true`, `false`, `null`,
	" \t\r\n{ \"a\" : [1 , 2,{\"b\":null}] , \"c\":\"d\" } \n",
	`{"\"":"\\","\\\"":"x\"y","e\u00e9":["]","}",",",":"]}`,
	`[[[[]]],{"a":{"b":{"c":[true,false,null]}}},-0,0.1E-7,"José"]`,
	`{"a":"` + "\U0001F600" + `","b":[{},[]]}`,
}

// FuzzScan checks Next, Value and Each, the scans of engine/jsonfit.go
// and engine/provider's exactNames, against encoding/json on any document
// json.Valid takes: Next reads the tokens a json.Decoder reads, in order;
// Value spans the document's value exactly; Each yields the members (or
// elements) a Decoder decodes, as written.
func FuzzScan(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			// Not JSON: anything but a panic or a hang will do.
			Value(b, 0)
			_ = Each(b, func(_, _ []byte) error { return nil })
			return
		}
		checkTokens(t, b)
		trimmed := bytes.TrimSpace(b)
		start, end := Value(b, 0)
		if string(b[start:end]) != string(trimmed) {
			t.Fatalf("Value(%q) = %q, want %q", b, b[start:end], trimmed)
		}
		checkEach(t, b)
	})
}

func TestSeeds(t *testing.T) {
	for _, s := range seeds {
		if !json.Valid([]byte(s)) {
			t.Fatalf("seed %q is not JSON", s)
		}
	}
	// What the callers rely on, written out once.
	b := []byte(` {"a" : [1, "x"], "b\"c":{"d":null} }`)
	var got []string
	if err := Each(b[1:], func(key, val []byte) error {
		got = append(got, string(key)+"="+string(val))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{`"a"=[1, "x"]`, `"b\"c"={"d":null}`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Each = %q, want %q", got, want)
	}
}

func checkTokens(t *testing.T, b []byte) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for i := 0; ; {
		start, end := Next(b, i)
		want, err := dec.Token()
		if err == io.EOF {
			if start != len(b) {
				t.Fatalf("%q: Next finds %q after the last token", b, b[start:end])
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: json.Valid takes it, but a Decoder says %v", b, err)
		}
		if start == len(b) {
			t.Fatalf("%q: Next finds no token where a Decoder reads %v", b, want)
		}
		tok := b[start:end]
		var ok bool
		switch want := want.(type) {
		case json.Delim:
			ok = string(tok) == want.String()
		case string:
			var s string
			ok = tok[0] == '"' && json.Unmarshal(tok, &s) == nil && s == want
		case json.Number:
			ok = string(tok) == want.String()
		case bool:
			ok = string(tok) == fmt.Sprint(want)
		case nil:
			ok = string(tok) == "null"
		}
		if !ok {
			t.Fatalf("%q: Next reads %q at offset %d, a Decoder %#v", b, tok, start, want)
		}
		i = end
	}
}

func checkEach(t *testing.T, b []byte) {
	dec := json.NewDecoder(bytes.NewReader(b))
	open, _ := dec.Token()
	if open != json.Delim('{') && open != json.Delim('[') {
		return
	}
	var want []string
	for dec.More() {
		key := ""
		if open == json.Delim('{') {
			k, _ := dec.Token()
			key = k.(string)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%q=%s", key, val))
	}
	var got []string
	if err := Each(bytes.TrimSpace(b), func(key, val []byte) error {
		k := ""
		if key != nil {
			if err := json.Unmarshal(key, &k); err != nil {
				t.Fatalf("%q: Each's name %q is no JSON string", b, key)
			}
		}
		got = append(got, fmt.Sprintf("%q=%s", k, val))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%q: Each yields %q, a Decoder %q", b, got, want)
	}
}

func TestKind(t *testing.T) {
	for in, want := range map[string]string{
		` {"a": 1}`: "an object", "[1]": "an array", `"s"`: "a string", "-1": "a number", "7": "a number",
		"true": "a boolean", "false": "a boolean", "\n null": "null", "": "nothing", " \t": "nothing", "<html>": "not JSON",
		// A separator of Next's is no white space here: ",1" is no number.
		",1": "not JSON",
	} {
		if got := Kind([]byte(in)); got != want {
			t.Errorf("Kind(%q) = %q, want %q", in, got, want)
		}
	}
}
