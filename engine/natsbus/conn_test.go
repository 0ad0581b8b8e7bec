package natsbus

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/natstest"
)

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

// An asynchronous error of the connection (here a subscriber too slow for
// its pending limits) goes to ConnOptions' logger: the client's default
// handler wrote it to stderr, outside the log, a line at each write that
// failed as the link to NATS was lost (TestEventsPostedThroughLostAcks).
func TestConnOptionsLogAsyncErrors(t *testing.T) {
	var buf logtest.Buffer
	nc, err := nats.Connect(natstest.URL(t), ConnOptions(slog.New(slog.NewTextHandler(&buf, nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("slow")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(1, -1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := nc.Publish("slow", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow consumer logged", func() bool {
		s := buf.String()
		return strings.Contains(s, nats.ErrSlowConsumer.Error()) && strings.Contains(s, "subject=slow")
	})
}
