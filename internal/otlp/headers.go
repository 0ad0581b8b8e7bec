package otlp

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// headersEnvs are the variables whose headers the OTLP exporter sends
// with each export (the traces one's over the general one's, key by key).
var headersEnvs = []string{headersEnv, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}

// checkHeaders holds the headers variables to the exporter's rule:
// key=value pairs separated by commas, each key an HTTP token, each value
// URL-escaped where it needs to be. The exporter drops an entry that
// breaks it, so a collector's credentials written as an HTTP header
// ("authorization: Bearer ...") were not sent and every batch was
// refused; and it writes the entry to stderr, through OpenTelemetry's
// own logger, credentials and all. The error names the variable and the
// entry's place, never its text: that is where the credentials are.
func checkHeaders() error {
	for _, name := range headersEnvs {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			continue
		}
		for i, entry := range strings.Split(v, ",") {
			what := ""
			key, value, found := strings.Cut(entry, "=")
			switch {
			case !found:
				what = `has no "="`
			case !httpguts.ValidHeaderFieldName(strings.TrimSpace(key)):
				what = "has a key that is no HTTP header name"
			default:
				if _, err := url.PathUnescape(value); err != nil {
					what = `has a value with a "%" that starts no escape (write it %25)`
				}
			}
			if what != "" {
				return fmt.Errorf("%s: entry %d of %d %s: give key=value pairs separated by commas, such as %s=\"authorization=Bearer TOKEN\" (the exporter would drop it, and print it, credentials and all)",
					name, i+1, strings.Count(v, ",")+1, what, name)
			}
		}
	}
	return nil
}
