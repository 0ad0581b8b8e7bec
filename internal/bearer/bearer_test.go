package bearer

import (
	"errors"
	"net/http"
	"testing"
)

func TestToken(t *testing.T) {
	for _, c := range []struct {
		values []string
		token  string
		ok     bool
	}{
		{nil, "", false},
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"bearer  abc "}, "abc", true},
		{[]string{"Basic abc"}, "", false},
		{[]string{"Bearer "}, "", false},
		// Two headers: which one is meant depends on who reads them (the
		// first here, the last in a proxy before): neither is taken.
		// Before, the first was.
		{[]string{"Bearer abc", "Bearer def"}, "", false},
		{[]string{"Bearer abc", "Basic def"}, "", false},
	} {
		r := &http.Request{Header: http.Header{}}
		for _, v := range c.values {
			r.Header.Add("Authorization", v)
		}
		if token, ok := Token(r); token != c.token || ok != c.ok {
			t.Errorf("Authorization %q: %q, %v; want %q, %v", c.values, token, ok, c.token, c.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	for token, ok := range map[string]bool{
		"":                     true, // no token: no header
		"3f1b0c6e5d2a49f8b7c6": true,
		"a-b_c.d~e+f/g=":       true,
		"abc def":              false,
		"abc\ndef":             false,
		"abc\r":                false,
		"abc\x7f":              false,
		"abcé":                 false,
	} {
		if err := Check(token); (err == nil) != ok || (err != nil && !errors.Is(err, ErrNotPrintable)) {
			t.Errorf("Check(%q) = %v, want ok %v", token, err, ok)
		}
	}
}
