// Package provider is the remote provider protocol of the flow engine and a
// small library to serve it: a service registers, with a `flowgen serve`
// (or any engine with remote providers on), the Go steps and Go rollbacks it
// implements, serves them over HTTP or NATS, and keeps its lease alive.
// The engine calls a handler with the run's state and gets the new state
// and an outcome back. docs/engine.md#remote-providers describes the
// protocol for writing a provider in another language; this file is its one
// Go definition, which the engine and the library both use.
package provider

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/jsonpath"
	"github.com/flowgen/flowgen/internal/jsonscan"
	"github.com/flowgen/flowgen/internal/jsontag"
	"github.com/flowgen/flowgen/internal/snippet"
)

// Version is the protocol version a Request carries.
const Version = 1

// SubjectPrefix starts every NATS subject a handler may register
// ("flowgen_provider.<provider>.<step|rollback>.<handler>" is what
// natsprovider serves): the engine sends each call as a request on its own
// NATS connection, so a subject anywhere else would let a registration make
// it publish the run's state wherever that connection may, such as the
// broker's event stream or the JetStream API.
const SubjectPrefix = "flowgen_provider"

// Request is what the engine sends to a handler: the body of the HTTP POST
// to the handler's URL, or of the NATS request on its subject.
type Request struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	Flow    string `json:"flow"`
	// Step is the step whose action or rollback runs; Handler is the name
	// the provider registered ("Flow.Name" or "Name").
	Step    string `json:"step"`
	Handler string `json:"handler"`
	// Rollback is true for a Go rollback: undo what Step did.
	Rollback bool `json:"rollback,omitempty"`
	// IdempotencyKey is the same for every attempt of one execution of
	// the step (and after a restart of the engine): a provider drops the
	// duplicates of work it has done.
	IdempotencyKey string `json:"idempotency_key"`
	// Attempt counts from 1.
	Attempt int `json:"attempt"`
	// Deadline is when the engine stops waiting for this attempt (the
	// step's per-attempt timeout, cut to its deadline); absent: none.
	Deadline *time.Time `json:"deadline,omitempty"`
	// State is the run's state, a JSON object.
	State json.RawMessage `json:"state"`
}

// Response is what a handler answers (HTTP 200, or the NATS reply): the
// new state and an outcome, or an error.
type Response struct {
	// State replaces the run's state (a JSON object) when the call
	// succeeds; absent or null leaves it as it was.
	State json.RawMessage `json:"state,omitempty"`
	// Outcome is "" or "ok" (absent or null in JSON: ok too), or one of
	// the outcomes the step declares (steps only; a rollback has none).
	Outcome string `json:"outcome,omitempty"`
	// Error, when set, fails the attempt; State and Outcome are ignored.
	// Absent or null: no error.
	Error *Error `json:"error,omitempty"`
}

// Error is a handler's failure.
type Error struct {
	Message string `json:"message"`
	// Class is ClassRetryable (the step's retry policy tries again; the
	// default) or ClassPermanent (no retry: the step fails at once).
	Class string `json:"class,omitempty"`
}

// Error classes.
const (
	ClassRetryable = "retryable"
	ClassPermanent = "permanent"
)

// Error is the message, or says there was none: the step's error in the
// run's history ends with it, and an empty one would end in ": ".
func (e *Error) Error() string {
	if e.Message == "" {
		return "an error without a message"
	}
	return e.Message
}

// Check reports a response that breaks the protocol.
func (r *Response) Check() error {
	if r.Error != nil {
		switch r.Error.Class {
		case "", ClassRetryable, ClassPermanent:
		default:
			// The class is the provider's, up to an answer's 16 MiB: its
			// start says which, as a name too long is quoted
			// (dsl.NameProblem). Whole, it went into the run's history,
			// past the bound of an error's message, and into the
			// engine's log line of the refused answer.
			return fmt.Errorf("error class %s is neither %q nor %q", snippet.Quote(r.Error.Class, 32), ClassRetryable, ClassPermanent)
		}
		return nil
	}
	if s := r.State; len(s) > 0 && string(s) != "null" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(s, &obj); err != nil {
			// s decoded as a member, so it is JSON: say which type.
			return fmt.Errorf("state is not a JSON object: found %s", jsonscan.Kind(s))
		}
	}
	return nil
}

// DecodeStrict decodes b, one JSON object, into v: another value, a
// member v does not have (by its name as written, case and all: see
// exactNames), a member twice, or anything but white space after the
// object, is an error. The engine reads a provider's answer and a registration
// so: an answer that is only partly a provider's (a JSON object followed
// by a proxy's page) is not taken for one, nor is null, which decodes
// into a struct as nothing at all (a handler that returned nothing:
// Python's None, a nil pointer) and would be taken for a success.
func DecodeStrict(b []byte, v any) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 { // encoding/json says EOF
		return errEmpty
	}
	if t[0] != '{' {
		// A proxy's page in place of the provider's answer is told where
		// its JSON goes wrong, as a broken object is; JSON of another
		// type, by its type.
		if err := CheckJSON(b); err != nil {
			return err
		}
		return fmt.Errorf("not a JSON object: found %s", jsonscan.Kind(t))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// A member v does not have is named by its path, as one misspelt
		// by case is (`handlers[0]: unknown member "foo"`), where
		// DisallowUnknownFields says `json: unknown field "foo"`, wherever
		// it is. Of valid JSON, an error that is not of a value's type is
		// that one (or a value's own UnmarshalJSON's, which exactNames
		// does not read).
		if !errors.As(err, new(*json.UnmarshalTypeError)) && json.Valid(b) {
			if nerr := exactNames(b, reflect.TypeOf(v)); nerr != nil {
				return nerr
			}
		}
		return decodeError(b, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return dataAfter(b, end)
	}
	return exactNames(b, reflect.TypeOf(v))
}

// dataAfter says where the data after a value that ends at byte off of
// b starts (an object followed by a proxy's page), as an error inside
// the value is placed.
func dataAfter(b []byte, off int64) error {
	for off < int64(len(b)) && bytes.IndexByte([]byte(" \t\r\n"), b[off]) >= 0 {
		off++
	}
	return fmt.Errorf("%w, at %s", errDataAfter, lineColumn(b, off+1))
}

// The errors of a body that is not one JSON value, but for where its
// JSON goes wrong (decodeError).
var (
	errEmpty     = errors.New("no JSON object: the body is empty")
	errDataAfter = errors.New("data after the JSON value")
)

// CheckJSON is nil for b that is one JSON value (of any type), white space
// around it, and otherwise says what DecodeStrict says of it: where it
// stops being JSON (`invalid JSON at line 1, column 13: ...`), that it is
// empty, or that more follows its value. The engine's start of a run
// (POST /flows/{flow}/runs, POST /rpc/{endpoint}) answers it, so that a
// start and a registration are told alike where their JSON goes wrong.
func CheckJSON(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	if err := dec.Decode(&v); err == io.EOF {
		return errEmpty
	} else if err != nil {
		return decodeError(b, err)
	}
	return dataAfter(b, dec.InputOffset())
}

// decodeError phrases err, an error of encoding/json decoding b, for
// whoever sent b, who may not write Go: a value of another type than the
// member's is named by its JSON path and both JSON types
// (`handlers[1].outcomes[0]: expected string, found number`), where
// encoding/json names the Go field and type (`Go struct field
// Handler.handlers.outcomes of type string`).
func decodeError(b []byte, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Where, as PUT /flows says it of a flow document: encoding/json
		// names the character, not its place.
		return fmt.Errorf("invalid JSON at %s: %w", lineColumn(b, se.Offset), cutError{err})
	case errors.Is(err, io.ErrUnexpectedEOF):
		what := "value"
		if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			what = "object"
		}
		return fmt.Errorf("invalid JSON: the body ends, at %s, before its %s does", lineColumn(b, int64(len(b))+1), what)
	case !errors.As(err, &te):
		return cutError{err}
	}
	found := strings.Replace(te.Value, "bool", "boolean", 1)
	return fmt.Errorf("%sexpected %s, found %s", at(pathAt(b, int(te.Offset)-1)), jsonType(te.Type), found)
}

// lineColumn is where byte off (1-based, as json.SyntaxError's Offset
// counts the bytes read up to the one at fault) sits in b: "line L,
// column C", both from 1, the column in bytes.
func lineColumn(b []byte, off int64) string {
	line, col := diag.LineColumn(b, int(off)-1)
	return fmt.Sprintf("line %d, column %d", line, col)
}

// jsonType names the JSON type a value of Go type t is decoded from.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(textUnmarshaler) && !pt.Implements(jsonUnmarshaler) {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer (in range)"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string (base64)"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "another type"
}

// pathAt is the path (jsonpath.Member, jsonpath.Index) of the innermost value of
// the JSON document doc, valid up to that value, that holds the byte at
// offset pos: where encoding/json found a value of the wrong type.
func pathAt(doc []byte, pos int) string {
	path := ""
	v := bytes.TrimLeft(doc, " \t\r\n")
	for len(v) > 0 && (v[0] == '{' || v[0] == '[') && pos > cap(doc)-cap(v) {
		var inner []byte
		i := 0
		_ = jsonscan.Each(v, func(key, val []byte) error {
			if start := cap(doc) - cap(val); pos < start || pos >= start+len(val) {
				i++
				return nil
			}
			inner = val
			if key == nil {
				path = jsonpath.Index(path, i)
			} else {
				path = jsonpath.Member(path, memberName(key))
			}
			return errStop
		})
		if inner == nil {
			break
		}
		v = inner
	}
	return path
}

var errStop = errors.New("stop")

// memberName is the name a JSON member's key spells (quotes and escapes
// included, and bytes that are not UTF-8 read as U+FFFD, as encoding/json
// reads them); a key that does not decode is given as written.
func memberName(key []byte) string {
	name := string(key[1 : len(key)-1])
	if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
		_ = json.Unmarshal(key, &name)
	}
	return name
}

// at is the start of an error about the value at path: "path: ", or
// nothing at the top.
func at(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// cutError is an error of encoding/json whose text is cut to
// snippet.BodyBytes: `json: unknown field "..."` quotes a member's name
// whole, as long as the body is, and the engine answers the error.
type cutError struct{ err error }

func (e cutError) Error() string { return snippet.Cut(e.err.Error(), snippet.BodyBytes) }

func (e cutError) Unwrap() error { return e.err }

// exactNames reports a member of the JSON value b, decoded into a value
// of type t, that t does not name exactly as written, or that comes twice
// in one object. encoding/json matches member names case-insensitively,
// and takes the last of two: DisallowUnknownFields lets
// {"Outcome": "lost"} through for "outcome", and {"state": {...},
// "State": null} drop the state, where the protocol's names, like every
// JSON name, are case-sensitive. A json.RawMessage (a state) is not read
// but skipped. b is valid JSON (encoding/json decoded it): a scan of its
// bytes (internal/jsonscan) finds the names, at a third of the cost of
// json.Decoder's tokens.
// A type that decodes itself (json.Unmarshaler, encoding.TextUnmarshaler:
// a time.Time, from a JSON string) has its own rules, and is not read
// either.
func exactNames(b []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	switch pt := reflect.PointerTo(t); {
	case len(b) == 0 || b[0] == 'n': // null
	case pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler):
	case t.Kind() == reflect.Struct && b[0] == '{':
		fields := jsonFields(t)
		var seen []string
		return jsonscan.Each(b, func(key, val []byte) error {
			name := memberName(key)
			ft, ok := fields[name]
			switch {
			case !ok:
				return &namesError{msg: "unknown member " + snippet.Quote(name, snippet.BodyBytes) + caseHint(name, maps.Keys(fields))}
			case slices.Contains(seen, name):
				return &namesError{msg: fmt.Sprintf("member %s given twice", snippet.Quote(name, snippet.BodyBytes))}
			}
			seen = append(seen, name)
			return within(exactNames(val, ft), place{name: name, index: -1})
		})
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 && b[0] == '[':
		i := 0
		return jsonscan.Each(b, func(_, val []byte) error {
			if err := exactNames(val, t.Elem()); err != nil {
				return within(err, place{index: i})
			}
			i++
			return nil
		})
	}
	return nil
}

// caseHint is what an unknown member's error adds when one of names
// spells it in another case, as encoding/json would have taken it:
// `"Name"` is not `name`. A name that matches none ("foo") gets none,
// which would send its writer looking for the right case.
func caseHint(name string, names iter.Seq[string]) string {
	for n := range names {
		if strings.EqualFold(n, name) {
			return " (names are case-sensitive)"
		}
	}
	return ""
}

// namesError is an error of exactNames: msg, about the value at the path
// that in spells, innermost place first. The path is written only when
// the error is (jsonpath.Member, jsonpath.Index): a valid answer or start
// state, read at every call and start, builds none.
type namesError struct {
	in  []place
	msg string
}

// place is a value's place in its parent: its member name (index -1) or
// its index.
type place struct {
	name  string
	index int
}

func (e *namesError) Error() string {
	path := ""
	for _, p := range slices.Backward(e.in) {
		if p.index >= 0 {
			path = jsonpath.Index(path, p.index)
		} else {
			path = jsonpath.Member(path, p.name)
		}
	}
	return at(path) + e.msg
}

// within is err, an error of exactNames about a value at p or inside it,
// with p added to its path.
func within(err error, p place) error {
	if e, ok := err.(*namesError); ok {
		e.in = append(e.in, p)
	}
	return err
}

// jsonFields is the members encoding/json decodes into the struct type t,
// by their names as written, each with its field's type. It follows
// encoding/json's rules, so that a name it takes is one exactNames takes:
// a field's name is its tag's, else its own; an embedded struct without a
// tag name gives its fields, as if t had them, those of an unexported type
// too (a state type may embed a struct of common members); of the fields
// one name gives at the shallowest depth, the one tagged wins, and two
// alike give none (encoding/json ignores such a name, and
// DisallowUnknownFields refuses it). Unexported fields and tag "-" give no
// member. The answer is kept by type: a provider's answers are read with
// few types, many times.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	type field struct {
		name   string
		typ    reflect.Type
		depth  int
		tagged bool
	}
	var found []field
	visited := map[reflect.Type]bool{}
	// A level's structs, and how many times each is embedded there: one
	// embedded twice at a depth gives each of its names twice, which
	// cancel out.
	count := map[reflect.Type]int{t: 1}
	for depth, level := 0, []reflect.Type{t}; len(level) > 0; depth++ {
		var next []reflect.Type
		nextCount := map[reflect.Type]int{}
		for _, st := range level {
			if visited[st] {
				continue
			}
			visited[st] = true
			for sf := range st.Fields() {
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if sf.Anonymous {
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				name, omitted := jsontag.Parse(sf.Tag)
				if omitted {
					continue
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					if nextCount[ft]++; nextCount[ft] == 1 {
						next = append(next, ft)
					}
					continue
				}
				f := field{name: name, typ: sf.Type, depth: depth, tagged: name != ""}
				if name == "" {
					f.name = sf.Name
				}
				found = append(found, f)
				if count[st] > 1 {
					found = append(found, f)
				}
			}
		}
		level, count = next, nextCount
	}
	// The dominant field of each name: the shallowest, the tagged one
	// first; none when the two first are alike.
	slices.SortStableFunc(found, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if a.depth != b.depth {
			return a.depth - b.depth
		}
		switch {
		case a.tagged && !b.tagged:
			return -1
		case b.tagged && !a.tagged:
			return 1
		}
		return 0
	})
	fields := map[string]reflect.Type{}
	for i := 0; i < len(found); {
		j := i + 1
		for j < len(found) && found[j].name == found[i].name {
			j++
		}
		if j-i == 1 || found[i].depth != found[i+1].depth || found[i].tagged != found[i+1].tagged {
			fields[found[i].name] = found[i].typ
		}
		i = j
	}
	f, _ := fieldCache.LoadOrStore(t, fields)
	return f.(map[string]reflect.Type)
}

var fieldCache sync.Map // reflect.Type: map[string]reflect.Type

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Registration is the body of PUT /providers/{name}: the handlers a
// provider serves and the lease it asks for.
type Registration struct {
	// TTL is the lease: the handlers are live until TTL after the last
	// registration or renewal (a Go duration, "30s"; default and bounds:
	// docs/engine.md#remote-providers, "Leases").
	TTL string `json:"ttl,omitempty"`
	// Handlers are the handlers the provider serves.
	Handlers []Handler `json:"handlers"`
	// Replica registers one replica of the provider (one of its
	// processes sharing its name; docs/engine.md#replicas) rather than
	// the lease whole: the ?replica= of PUT /providers/{name}, which sets
	// it, never the body's. Set it when registering in Go
	// (Engine.RegisterProvider).
	Replica string `json:"-"`
}

// Handler is one handler of a Registration. Exactly one of URL and
// Subject is set.
type Handler struct {
	// Name is "Flow.Name" (one flow's) or "Name" (every flow's that
	// names it; a qualified name wins).
	Name string `json:"name"`
	// Rollback: a Go rollback rather than a Go step.
	Rollback bool `json:"rollback,omitempty"`
	// Outcomes are the named outcomes the step may return beside ok, as
	// the flows using it declare them (in any order). A rollback has none.
	Outcomes []string `json:"outcomes,omitempty"`
	// URL is where the engine POSTs the Request (HTTP providers); it must
	// be allowed by the server's allow-list.
	URL string `json:"url,omitempty"`
	// Subject is the NATS subject the engine sends the Request to (NATS
	// providers; replicas subscribe with a queue group).
	Subject string `json:"subject,omitempty"`
}

// Lease is the answer to a registration or a renewal, and an entry of
// GET /providers.
type Lease struct {
	Provider string `json:"provider"`
	// Replica is the replica the registration or renewal was about (its
	// ?replica=); absent for the lease whole.
	Replica string `json:"replica,omitempty"`
	// TTL and Expires are the replica's registration's, or the lease's:
	// that of its replica which expires last.
	TTL      string    `json:"ttl"`
	Expires  time.Time `json:"expires"`
	Warnings []string  `json:"warnings,omitempty"`
	// CallToken is the registration's call credential, in the answer to
	// the registration alone (never a renewal's, nor GET /providers): the
	// engine sends it as "Authorization: Bearer CALL_TOKEN" with every
	// HTTP call of the registration's handlers, so that a provider tells
	// the engine's calls from anyone's. A renewal keeps it; registering
	// again issues another. Absent from an engine that sends none.
	CallToken string `json:"call_token,omitempty"`
	// Handlers are the registration's, or the lease's: those of its live
	// replicas, each once.
	Handlers []Handler `json:"handlers,omitempty"`
	// Replicas are the IDs of the lease's live replicas (GET /providers;
	// absent when it was registered without replica IDs).
	Replicas []string `json:"replicas,omitempty"`
	// Unreachable are the IDs of its live replicas that a call found gone
	// (no server at their URL) since they last registered or renewed: the
	// engine passes them over while another replica serves the handler
	// (GET /providers; "" is a registration without a replica ID).
	Unreachable []string `json:"unreachable,omitempty"`
}
