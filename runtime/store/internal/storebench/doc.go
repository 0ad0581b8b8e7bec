// Package storebench is a separate module so that the comparison engines
// (modernc.org/sqlite and github.com/cschleiden/go-workflows) stay out of
// flowgen's go.mod. It holds benchmarks only; run them with
//
//	cd runtime/store/internal/storebench && go test -run '^$' -bench . -benchtime 2s
package storebench
