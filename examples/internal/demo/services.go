package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ServicesFile is where an example's fake services keep their data,
// beside the store's files: a restarted program sees what the services
// did before, as it would with real ones.
const ServicesFile = "services.json"

// LoadServices reads the services' data from dir into data (left as it is
// when there is no file yet) and returns the path to save it to; dir ""
// keeps the data in memory only (path "").
func LoadServices(dir string, data any) (path string, err error) {
	if dir == "" {
		return "", nil
	}
	path = filepath.Join(dir, ServicesFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return path, nil
	}
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, data); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return path, nil
}

// SaveServices writes data to path ("" for none) with a rename, so that a
// process killed at any moment leaves the old file or the new one. (No
// fsync: the demo kills the process, not the machine.)
func SaveServices(path string, data any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
