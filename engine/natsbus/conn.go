package natsbus

import (
	"log/slog"

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
//   - log (nil: discard) gets each disconnection and reconnection.
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
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	}
}
