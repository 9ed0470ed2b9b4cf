// Package sourcetest has what the adapters' tests share.
package sourcetest

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// FixtureLines reads testdata/name as lines (newline-delimited JSON, as
// Jetstream and X's stream send it), each a copy of its own.
func FixtureLines(t testing.TB, name string) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(Fixture(t, name)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// Until polls ok every 5 ms until it holds, or fails the test with what
// after 5 s.
func Until(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
