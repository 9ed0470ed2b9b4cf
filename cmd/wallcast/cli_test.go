package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCommand: check passes the shipped config and lists every
// problem of a bad one with its file and line.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := "../../config.yaml"
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "-config", good}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Errorf("check good: %d %q %q", code, out.String(), errOut.String())
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("walls:\n  - slug: x\n    sources: [nope]\n    colour: red\n"), 0o600)
	out.Reset()
	errOut.Reset()
	code := run([]string{"check", "-config", bad}, &out, &errOut)
	msg := errOut.String()
	if code != 1 || !strings.Contains(msg, "bad.yaml:4: walls[0].colour: unknown key") || !strings.Contains(msg, `bad.yaml:3: walls[0].sources: no source is named "nope"`) {
		t.Errorf("check bad: %d\n%s", code, msg)
	}
}

// TestSubcommands: one switch; an unknown command is refused with the
// usage, and "check bench" is not taken for the load tool.
func TestSubcommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) || !strings.Contains(errOut.String(), "hash-password") {
		t.Errorf("unknown command: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"check", "bench"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unexpected "bench"`) {
		t.Errorf("check bench: %d %q", code, errOut.String())
	}
	out.Reset()
	for _, h := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out.Reset()
		if code := run(h, &out, &errOut); code != 0 || !strings.Contains(out.String(), "usage: wallcast") || !strings.Contains(out.String(), "edge ") {
			t.Errorf("%v: %d %q", h, code, out.String())
		}
	}
}
