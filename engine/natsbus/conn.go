package natsbus

import (
	"log/slog"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"
)

// ConnOptions are the options of a NATS connection that a Broker (and
// the remote providers' transport over it) relies on, for nats.Connect:
//
//   - No reconnect buffer: while the connection is down, a publish fails
//     at once. With the client's default (8 MB), a publish made then is
//     kept and sent once the connection is back, after Publish has
//     returned its timeout: the engine answered POST /events 502 and the
//     event was applied all the same, where a 5xx must change nothing.
//   - Reconnect forever: with the client's default (60 attempts, 2s
//     apart) a NATS server down for two minutes closes the connection
//     for good, and the consumers stop (pull) while the process goes on
//     without a broker. What closes the connection now is only what
//     reconnecting cannot mend (the server refusing the credentials), and
//     the caller's nats.ClosedHandler learns it.
//   - log (nil: discard) gets each disconnection and reconnection, and
//     the connection's asynchronous errors (a subscriber too slow, a
//     write that failed as the link was lost), which the client's default
//     handler wrote to stderr, outside the log.
func ConnOptions(log *slog.Logger) []nats.Option {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return []nats.Option{
		nats.ReconnectBufSize(-1),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn("NATS disconnected; reconnecting: publishing fails meanwhile (POST /events answers 502)", "error", err)
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("NATS asynchronous error", "error", err, "subject", sub.Subject)
				return
			}
			log.Warn("NATS asynchronous error", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", RedactURL(nc.ConnectedUrl()))
		}),
	}
}

// RedactURL is a NATS server URL, or a comma-separated list of them as
// nats.Connect takes, fit for a log or an error: the credentials of its
// userinfo are replaced by "xxxxx", the password of user:password and a
// token alone (nats://TOKEN@host) too, which url.URL.Redacted and the
// client's ConnectedUrlRedacted leave in clear.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	// The client takes a URL without a scheme (user:pass@host:4222) too,
	// which url.Parse refuses.
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		scheme, s, at = s[:i+3], s[i+3:], at-i-3
	}
	u, err := url.Parse("nats://" + s)
	if err != nil || u.User == nil {
		return scheme + "xxxxx" + s[at:] // not a URL: hide all before the host
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx") // a token
	}
	return scheme + strings.TrimPrefix(u.String(), "nats://")
}
