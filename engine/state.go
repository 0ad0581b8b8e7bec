package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/flowgen/flowgen/internal/jsonenc"
	"github.com/flowgen/flowgen/runtime"
)

// State is the state of a run of a JSON-defined flow: a JSON object whose
// members are the state fields the flow names (`(Customer)`, `->
// CustomerID`, `correlate CustomerID`). Handlers read and write fields by
// name.
//
// State is a value with copy-on-write fields: Set never changes a map that
// another State value shares, so the runtime's rule that a failed attempt
// leaves the state as it was holds for JSON flows too (the runtime keeps a
// copy of the value before each attempt).
type State struct {
	fields map[string]json.RawMessage
}

// NewState returns a state with the given fields, each encoded as JSON.
func NewState(fields map[string]any) (State, error) {
	var s State
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if err := s.Set(k, fields[k]); err != nil {
			return State{}, err
		}
	}
	return s, nil
}

// Has reports whether the field is set (to anything, null included).
func (s State) Has(field string) bool {
	_, ok := s.fields[field]
	return ok
}

// Raw returns the field's JSON, or nil when it is not set. The bytes are
// shared: do not modify them.
func (s State) Raw(field string) json.RawMessage { return s.fields[field] }

// Get decodes the field into v. A missing field leaves v alone and
// returns nil, like decoding a missing member of a JSON object.
func (s State) Get(field string, v any) error {
	raw, ok := s.fields[field]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("state field %q: %w", field, err)
	}
	return nil
}

// String returns the field as a string: a JSON string's value, any other
// JSON value as written (a number "42"), "" when the field is not set or
// null. An await's correlate field is not read by it but by
// runtime.CorrelationText, as an event's member is, which gives "null"
// for null.
func (s State) String(field string) string {
	raw, ok := s.fields[field]
	if !ok {
		return ""
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	return string(raw)
}

// Set encodes v as JSON into the field, a value through a pointer to a
// copy of it (runtime.Addressed), so that a field whose JSON methods have
// pointer receivers (a math/big.Int) keeps them. A json.RawMessage is
// taken as it is: it must be valid JSON, UTF-8, with no number beyond a
// float64's range, nested at most MaxJSONDepth deep.
func (s *State) Set(field string, v any) error {
	raw, ok := v.(json.RawMessage)
	if !ok {
		b, err := jsonenc.Marshal(runtime.Addressed(v))
		if err != nil {
			return fmt.Errorf("state field %q: %w", field, err)
		}
		raw = b
	} else if !json.Valid(raw) {
		return fmt.Errorf("state field %q: invalid JSON", field)
	} else if err := jsonUnfit(raw); err != nil {
		// Raw JSON comes from outside (an rpc's response, a handler's
		// copy of one): a state holding it could not be read back.
		return fmt.Errorf("state field %q: %v", field, err)
	}
	s.setRaw(field, raw)
	return nil
}

func (s *State) setRaw(field string, raw json.RawMessage) {
	next := make(map[string]json.RawMessage, len(s.fields)+1)
	maps.Copy(next, s.fields)
	next[field] = slices.Clip(raw)
	s.fields = next
}

// Delete removes the field.
func (s *State) Delete(field string) {
	if _, ok := s.fields[field]; !ok {
		return
	}
	next := maps.Clone(s.fields)
	delete(next, field)
	s.fields = next
}

// Fields returns the names of the set fields, sorted.
func (s State) Fields() []string { return slices.Sorted(maps.Keys(s.fields)) }

// MarshalJSON encodes the state as a JSON object with sorted members.
func (s State) MarshalJSON() ([]byte, error) {
	if s.fields == nil {
		return []byte("{}"), nil
	}
	return jsonenc.Marshal(s.fields)
}

var errNotObject = errors.New("state must be a JSON object")

// UnmarshalJSON decodes a JSON object (null gives the empty state).
func (s *State) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		s.fields = nil
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return errNotObject
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	s.fields = m
	return nil
}
