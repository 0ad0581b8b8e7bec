package gocheck

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A state type that holds a lock by value is refused at its state line,
// naming the way to the lock: the generated code passes the state by
// value, which go vet refuses. A lock behind a pointer, in a slice or a
// map is not copied, and passes.
func TestStateLock(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\nimport (\n\t\"sync\"\n\t\"sync/atomic\"\n)\n\n" +
			"type Mu struct {\n\tIn string\n\tmu sync.Mutex\n}\n\n" +
			"type Deep struct {\n\tIn string\n\tCache\n}\n\n" +
			"type Cache struct {\n\tlocks [2]sync.RWMutex\n}\n\n" +
			"type Count struct {\n\tIn string\n\tN atomic.Int64\n}\n\n" +
			"type Self struct{ In string }\n\nfunc (*Self) Lock()   {}\nfunc (*Self) Unlock() {}\n\n" +
			"type Fine struct {\n\tIn string\n\tmu *sync.Mutex\n\tall []sync.Mutex\n\tby map[string]sync.Mutex\n\tvalue Locked\n}\n\n" +
			"type Locked struct{}\n\nfunc (Locked) Lock()   {}\nfunc (Locked) Unlock() {}\n",
	})
	check := func(state string) []string {
		src := "flow F {\n    state " + state + "\n    step A {\n        rpc svc \"X.Y\" (In)\n        irreversible\n    }\n}\n"
		var out []string
		for _, d := range load(src, dir) {
			if d.Code == "state-lock" {
				out = append(out, strings.TrimPrefix(d.Range.Start.String(), "t.flow:")+" "+d.Severity.String()+": "+strings.SplitN(d.Message, ":", 2)[0])
			}
		}
		return out
	}
	for state, want := range map[string][]string{
		"Mu":    {"2:11 error: state type Mu holds a lock by value, field mu (sync.Mutex)"},
		"Deep":  {"2:11 error: state type Deep holds a lock by value, field Cache.locks (sync.RWMutex)"},
		"Count": {"2:11 error: state type Count holds a lock by value, field N (atomic.Int64)"},
		"Self":  {"2:11 error: state type Self is itself a lock (its pointer has Lock and Unlock methods)"},
		"Fine":  nil,
	} {
		if d := cmp.Diff(want, check(state)); d != "" {
			t.Errorf("state %s (-want +got):\n%s", state, d)
		}
	}
}
