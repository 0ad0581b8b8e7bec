package tracectx

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Text is s as a span may hold it: UTF-8, each run of bytes that are not
// read as U+FFFD (as encoding/json shows them). An OTLP exporter sends no
// batch that holds a string that is not UTF-8 (protobuf refuses to encode
// it), so one span with such a text (a request's path, "/runs/%FF"; the
// error of a Go step that quotes bytes it read) would lose every span
// exported with it: everyone's runs, steps and calls. Every text of a span
// that is not flowgen's own goes through Text, or Fail for an error.
func Text(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// Fail marks span failed with err: an exception event and the status
// Error, both with err's text made UTF-8 (Text). An error whose text is
// not UTF-8 is recorded as a textError, which keeps its text so made.
func Fail(span trace.Span, err error) {
	msg := err.Error()
	if !utf8.ValidString(msg) {
		msg = Text(msg)
		err = textError{msg}
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, msg)
}

// textError is an error whose text was not UTF-8, as Fail records it.
type textError struct{ msg string }

func (e textError) Error() string { return e.msg }
