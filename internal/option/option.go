// Package option holds the one rule for applying functional options, shared
// by every package that takes them (runtime's Option, RunOption and
// StepOption, engine/httpcall's Option): a nil option sets nothing.
//
// It imports nothing, so the runtime may import it (internal/deps).
package option

// Apply applies opts to x in order, skipping nil ones, so a nil option
// means "nothing to set", as a caller that builds its options
// conditionally (var o Option; if tracing { o = WithSink(s) }) expects,
// rather than a panic.
func Apply[T any, O ~func(T)](x T, opts []O) {
	for _, o := range opts {
		if o != nil {
			o(x)
		}
	}
}
