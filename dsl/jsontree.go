package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// jnode is one JSON value with its place in the document.
type jnode struct {
	kind jkind
	keys []string // object keys, in document order (duplicates kept)
	vals []*jnode // object values, parallel to keys; array elements
	str  string
	num  json.Number
	b    bool
}

type jkind int

func (k jkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jsonSyntaxError is a JSON syntax error at a byte offset.
type jsonSyntaxError struct {
	msg    string
	offset int64
}

func (e *jsonSyntaxError) Error() string { return e.msg }

func parseJSONTree(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := readJSONValue(dec)
	if err != nil {
		return nil, err
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n", data[off]) >= 0 {
			off++
		}
		return nil, &jsonSyntaxError{"unexpected data after the top-level value", off}
	}
	return root, nil
}

func readJSONValue(dec *json.Decoder) (*jnode, error) {
	type frame struct {
		n   *jnode
		key *string // pending key for an object frame
	}
	var stack []*frame
	var root *jnode
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF && root == nil && len(stack) == 0 {
			// Nothing but white space: a file saved empty, or a request
			// sent without its body, which "unexpected end" hides.
			return nil, &jsonSyntaxError{"the document is empty", off}
		}
		if err == io.EOF {
			return nil, &jsonSyntaxError{"unexpected end of JSON input", off}
		}
		if err != nil {
			return nil, err
		}
		var n *jnode
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				k := jobject
				if t == '[' {
					k = jarray
				}
				n = &jnode{kind: k}
			case '}', ']':
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return top.n, nil
				}
				continue
			}
		case string:
			top := (*frame)(nil)
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			if top != nil && top.n.kind == jobject && top.key == nil {
				top.key = &t
				continue
			}
			n = &jnode{kind: jstring, str: t}
		case json.Number:
			n = &jnode{kind: jnumber, num: t}
		case bool:
			n = &jnode{kind: jbool, b: t}
		case nil:
			n = &jnode{kind: jnull}
		}
		if len(stack) == 0 {
			root = n
		} else {
			top := stack[len(stack)-1]
			if top.n.kind == jobject {
				top.n.keys = append(top.n.keys, *top.key)
				top.key = nil
			}
			top.n.vals = append(top.n.vals, n)
		}
		if n.kind == jobject || n.kind == jarray {
			if len(stack) >= maxJSONDepth {
				return nil, &jsonSyntaxError{fmt.Sprintf("JSON nested deeper than %d levels", maxJSONDepth), off}
			}
			stack = append(stack, &frame{n: n})
			continue
		}
		if len(stack) == 0 {
			return root, nil
		}
	}
}
