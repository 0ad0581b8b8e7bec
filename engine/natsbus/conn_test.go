package natsbus

import "testing"

// RedactURL hides a URL's password and a token alone, which
// url.URL.Redacted shows.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                      "nats://127.0.0.1:4222",
		"nats://ada:s3cret@host:4222":                "nats://ada:xxxxx@host:4222",
		"nats://t0ken@host:4222":                     "nats://xxxxx@host:4222",
		"tls://ada:s3cret@a:1,nats://t0ken@b:2":      "tls://ada:xxxxx@a:1,nats://xxxxx@b:2",
		"ada:s3cret@host:4222":                       "ada:xxxxx@host:4222",
		"nats://ada:s%3Ar@et@host:4222":              "nats://ada:xxxxx@host:4222",
		"nats://ada:p%40ss@host:4222, nats://c:4222": "nats://ada:xxxxx@host:4222,nats://c:4222",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
