package engine

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/flowgen/flowgen/internal/jsonscan"
	"github.com/flowgen/flowgen/internal/snippet"
)

// MaxJSONDepth bounds how deeply a state or an event payload the engine
// takes in (a start's, an event's, a remote provider's answer's, an rpc's
// response: jsonUnfit) nests arrays and objects. A run's state holds a
// payload one level down or more (an await's `-> Field`), and
// encoding/json refuses more than 10,000 levels: a payload near that limit
// would make a state the run could no longer record, and the run would
// stop with nothing to say why. Business data nests a few levels; 1000
// leaves room for any of it.
const MaxJSONDepth = 1000

// jsonUnfit says why the engine takes in no valid JSON document b (a
// start's state, an event's payload, a remote provider's answered state,
// an rpc's response), nil when it takes it. Each door calls it after
// json.Valid, which checks neither of the last two below, and encoding/json
// copies b as it is into a state (json.RawMessage):
//   - b nests arrays and objects deeper than MaxJSONDepth;
//   - b is not UTF-8: the run's state, and GET /runs/{id}, would then be
//     bytes a strict JSON client cannot read;
//   - b holds a number no float64 holds (1e999): whatever decodes the
//     field as a number later fails (a call's typed request, a choose
//     condition, the Temporal interpreter), long after the run started.
//
// The error says where, as a byte offset into b. The depth scan costs
// one pass over internal/jsonscan's tokens; utf8.Valid one more, fast on
// ASCII; a number is parsed only when it has an exponent or more than 308
// characters, as only then can it overflow.
func jsonUnfit(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("invalid UTF-8 at byte offset %d", badUTF8(b))
	}
	depth := 0
	for i := 0; ; {
		start, end := jsonscan.Next(b, i)
		if start == len(b) {
			return nil
		}
		switch tok := b[start:end]; tok[0] {
		case '{', '[':
			if depth++; depth > MaxJSONDepth {
				return fmt.Errorf("JSON nested more than %d levels deep", MaxJSONDepth)
			}
		case '}', ']':
			depth--
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if len(tok) > 308 || bytes.ContainsAny(tok, "eE") {
				if _, err := strconv.ParseFloat(string(tok), 64); err != nil {
					return fmt.Errorf("the number %s at byte offset %d is out of the range of a float64", snippet.Cut(string(tok), 40), start)
				}
			}
		}
		i = end
	}
}

// badUTF8 is the offset of the first byte of b that does not begin a
// valid UTF-8 sequence (len(b) if none).
func badUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
