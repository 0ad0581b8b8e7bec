// Package deps has no code: its test (deps_test.go) enforces the module's
// dependency direction (README.md, "Layout") on the import graph that
// `go list -deps` reports, so that `go test ./...`, which CI runs, fails
// when a package starts linking what it must not:
//
//   - runtime/..., engine/..., dsl and the generated examples link none of
//     golang.org/x/tools, participle and jennifer: a service that runs
//     flows does not carry the .flow parser, the Go package loader or the
//     code generator;
//   - runtime/... imports nothing of parser, dsl, gen and engine, and of
//     internal/... only internal/jsonenc, internal/option, internal/regfile
//     and internal/snippet;
//   - engine/provider, the library a provider's service imports, links
//     neither the engine nor the runtime, observe, OpenTelemetry or NATS;
//   - parser imports neither dsl nor gen; dsl imports neither parser nor
//     gen (parser → dsl/flowfile → dsl → gen).
package deps
