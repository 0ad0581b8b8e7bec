//go:build unix

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `flowgen serve -temporal` becomes flowgen-temporal serve with the same
// arguments, in the same process (its PID), with its exit status; -store
// is not required then.
func TestServeTemporalExecsFlowgenTemporal(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho \"$$ $*\"\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, temporalCommand), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "-temporal", "localhost:7233", "-namespace", "orders", "-flows", "tflows", "-addr", "127.0.0.1:8090"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envCLIMain+"=1", "PATH="+bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit %v, want flowgen-temporal's status 3; stderr: %s", err, stderr.String())
	}
	want := fmt.Sprintf("%d %s\n", cmd.Process.Pid, strings.Join(args, " "))
	if stdout.String() != want {
		t.Errorf("flowgen-temporal got %q, want %q (the same process, serve and the same arguments)", stdout.String(), want)
	}
}

// Without flowgen-temporal, serve -temporal says how to install it and
// exits 2.
func TestServeTemporalNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stdout, stderr bytes.Buffer
	code := Main([]string{"serve", "-temporal", "localhost:7233"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "-temporal runs flowgen-temporal, which is not installed") ||
		!strings.Contains(stderr.String(), "(cd temporal && go install ./cmd/flowgen-temporal)") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

// -namespace and -task-queue without -temporal are a usage error, not
// ignored: serve would run on its store while its user thinks the runs
// are on the cluster.
func TestServeTemporalFlagsWithoutTemporal(t *testing.T) {
	// A store that cannot open: had serve gone on, it would stop there
	// (exit 1) rather than serve until the test times out.
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-namespace", "orders"},
		{"-task-queue", "orders"},
		{"-namespace=", "-task-queue", "q"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(append([]string{"serve", "-store", notADir, "-addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "only read with -temporal HOST:PORT") || stdout.Len() != 0 {
			t.Errorf("serve %v: exit %d, stdout %q, stderr %q; want a usage error before serving", args, code, stdout.String(), stderr.String())
		}
	}
}
