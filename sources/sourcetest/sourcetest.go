// Package sourcetest has what the adapters' tests share.
package sourcetest

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// Quiet is a logger that writes nowhere.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Fixture reads a file of the test's testdata folder.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
