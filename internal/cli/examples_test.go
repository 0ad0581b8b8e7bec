package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every .flow under examples/ checks clean (no error and no warning, with
// its Go package loaded) and is already in canonical layout. A directory
// without Go files holds flows for the flow service (run from their JSON
// form, with a JSON object as state), so there is no package to load.
func TestExamplesCheckCleanAndFormatted(t *testing.T) {
	root := filepath.Join("..", "..", "examples")
	var flows []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".flow") {
			flows = append(flows, path)
		}
		return nil
	})
	if os.IsNotExist(err) || err == nil && len(flows) == 0 {
		t.Skip("no .flow files under examples/ yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range flows {
		name, _ := filepath.Rel(root, path)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"check", path}
			if !hasGoFiles(t, filepath.Dir(path)) {
				args = []string{"check", "-nopkg", path}
			}
			if code := Main(args, nil, &stdout, &stderr); code != 0 || stderr.Len() > 0 || stdout.Len() > 0 {
				t.Errorf("flowgen check %s: exit %d, want 0 and no diagnostics:\n%s%s", path, code, stdout.String(), stderr.String())
			}
			stdout.Reset()
			stderr.Reset()
			if code := Main([]string{"fmt", "-l", path}, nil, &stdout, &stderr); code != 0 || stdout.Len() > 0 || stderr.Len() > 0 {
				t.Errorf("flowgen fmt -l %s: exit %d, want the file unchanged (run flowgen fmt -w %s):\n%s%s", path, code, path, stdout.String(), stderr.String())
			}
		})
	}
}

func hasGoFiles(t *testing.T, dir string) bool {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	return len(matches) > 0
}

// The JSON form of a service flow under examples/ is what `flowgen json`
// prints for its .flow, so the two cannot drift apart.
func TestExamplesJSONUpToDate(t *testing.T) {
	jsons, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range jsons {
		flow := strings.TrimSuffix(path, ".json") + ".flow"
		if _, err := os.Stat(flow); err != nil {
			continue
		}
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main([]string{"json", flow}, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("flowgen json %s: exit %d\n%s", flow, code, stderr.String())
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				t.Errorf("%s is stale: run flowgen json %s > %s", path, flow, path)
			}
		})
	}
}
