// Package jsonscan reads the tokens of a JSON document already known to be
// valid (json.Valid took it, or encoding/json decoded it) by scanning its
// bytes, without decoding or allocating: where encoding/json's Decoder
// costs a few times more and reads no offsets, the engine checks every
// document it takes in (engine/jsonfit.go) and the provider protocol finds
// every member's name as written (engine/provider, exactNames) with it.
// It is the one home of that scanning; both callers' fuzz tests check
// their rule built on it against encoding/json.
//
// On bytes that are not valid JSON it returns offsets that make no sense
// but never panics nor stops making progress.
package jsonscan

// Next is the next token of b at or after offset i, b[start:end]: white
// space, commas and colons are skipped. b[start] says its kind: '{', '[',
// '}', ']', '"' (a string, quotes and escapes included), '-' or a digit (a
// number), 't', 'f' or 'n' (a literal). start is len(b) when no token is
// left.
func Next(b []byte, i int) (start, end int) {
	for i < len(b) && separator(b[i]) {
		i++
	}
	if i == len(b) {
		return i, i
	}
	switch c := b[i]; {
	case c == '"':
		return i, stringEnd(b, i)
	case c == '-' || '0' <= c && c <= '9':
		j := i + 1
		for j < len(b) && numberByte(b[j]) {
			j++
		}
		return i, j
	case 'a' <= c && c <= 'z':
		j := i + 1
		for j < len(b) && 'a' <= b[j] && b[j] <= 'z' {
			j++
		}
		return i, j
	}
	return i, i + 1
}

// Value is the JSON value of b at or after offset i, b[start:end]: a whole
// object or array, or one token.
func Value(b []byte, i int) (start, end int) {
	start, end = Next(b, i)
	if start == len(b) || b[start] != '{' && b[start] != '[' {
		return start, end
	}
	for depth := 1; depth > 0 && end < len(b); {
		var s int
		if s, end = Next(b, end); s == len(b) {
			break
		}
		switch b[s] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return start, end
}

// Each calls f with each member of the JSON object that begins b (its
// name as written, quotes and escapes included, and its value), or with
// each element of the array that begins b (no name), in order, and stops
// at f's first error.
func Each(b []byte, f func(key, val []byte) error) error {
	open, i := Next(b, 0)
	if open == len(b) {
		return nil
	}
	for {
		s, e := Next(b, i)
		if s == len(b) || b[s] == '}' || b[s] == ']' {
			return nil
		}
		var key []byte
		if b[open] == '{' {
			key = b[s:e]
			s, e = Value(b, e)
		} else {
			s, e = Value(b, s)
		}
		if err := f(key, b[s:e]); err != nil {
			return err
		}
		i = e
	}
}

func separator(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ':'
}

// stringEnd is the end of the string that begins at b[i] (a quote): past
// its closing quote, or len(b) if it has none.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

func numberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// Kind names the JSON type of the value b starts with (white space
// before it skipped), with its article, for an error that says what a
// value is where another was wanted: "an object", "an array", "a
// string", "a number", "a boolean", "null"; "nothing" for no value, and
// "not JSON" for a start no JSON value has. It is the one home of those
// words, which the engine, the provider protocol and a choose's
// conditions say.
func Kind(b []byte) string {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	if len(b) == 0 {
		return "nothing"
	}
	switch c := b[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return "not JSON"
}
