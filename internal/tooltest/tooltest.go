// Package tooltest is the one home of the rule for tests that run a
// program from outside Go (a browser, python3, node): without the
// program the test skips, unless the environment promised it. .ci/run
// installs each such program and sets its FLOWGEN_REQUIRE_* variable,
// so that in CI a missing program fails the test rather than skipping
// it in silence.
package tooltest

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether the environment promised what env stands
// for: env set to anything but the empty string.
func Required(env string) bool {
	return os.Getenv(env) != ""
}

// Missing ends t because what it needs is missing, as why says: a
// failure when env is set (Required), else a skip, whose message says
// how to install it and which variable would make this a failure.
func Missing(t testing.TB, env, why, install string) {
	t.Helper()
	if Required(env) {
		t.Fatalf("%s is set but %s (%s)", env, why, install)
	}
	t.Skipf("%s (%s); set %s to make this a failure", why, install, env)
}

// Look returns the path of the first of names found on PATH, or ends t
// as Missing does.
func Look(t testing.TB, env, install string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, env, names[0]+" is not on PATH", install)
	return ""
}
