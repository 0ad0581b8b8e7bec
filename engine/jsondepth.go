package engine

import "fmt"

// MaxJSONDepth bounds how deeply a state or an event payload the engine
// takes in (a start's, an event's, a remote provider's answer's) nests
// arrays and objects. A run's state holds a payload one level down or more (an await's `-> Field`), and encoding/json refuses
// more than 10,000 levels: a payload near that limit would make a state the
// run could no longer record, and the run would stop with nothing to say
// why. Business data nests a few levels; 1000 leaves room for any of it.
const MaxJSONDepth = 1000

// jsonTooDeep reports a valid JSON document b that nests arrays and objects
// deeper than MaxJSONDepth.
func jsonTooDeep(b []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > MaxJSONDepth {
				return fmt.Errorf("JSON nested more than %d levels deep", MaxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
