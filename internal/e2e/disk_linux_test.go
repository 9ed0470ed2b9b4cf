package e2e

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDiskFull puts the database on a small tmpfs of its own and fills the
// disk: ingest pauses (webhooks answer 503 with Retry-After, /healthz says
// why) and resumes by itself once space returns, and every post accepted
// before, during or after is stored. It needs mount (root); elsewhere it
// skips. (A read-only remount is refused while the database is open, so
// the read-only case is tested in ingest, with SQLite's error.)
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	cfgPath := filepath.Join(dir, "config.yaml")
	dbPath := filepath.Join(disk, "wallcast.db")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook]}
`, dbPath)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, cfgPath)
	c := &http.Client{Timeout: 15 * time.Second}
	var accepted []string
	n := 0
	// pushUntil pushes posts until one is answered want (deadline 20 s).
	pushUntil := func(want int) *http.Response {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			n++
			id := fmt.Sprintf("d%d", n)
			resp, err := pushResp(c, p.addr, id)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == 200 {
				accepted = append(accepted, id)
			}
			if resp.StatusCode == want {
				return resp
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no push answered %d within 20 s", want)
		return nil
	}
	healthz := func() (int, string) {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	paused := func(why ...string) {
		t.Helper()
		resp := pushUntil(http.StatusServiceUnavailable)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		code, body := healthz()
		ok := code == http.StatusServiceUnavailable
		for _, w := range why {
			ok = ok && strings.Contains(body, w)
		}
		if !ok {
			t.Errorf("/healthz while paused: %d %q, want 503 with %q", code, body, why)
		}
	}
	resumed := func() {
		t.Helper()
		pushUntil(http.StatusOK)
		if code, body := healthz(); code != 200 {
			t.Errorf("/healthz after resuming: %d %q", code, body)
		}
	}
	for range 20 {
		pushUntil(http.StatusOK)
	}

	// A full disk.
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	paused("storage refuses writes", "ingest is paused")
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	resumed()

	for range 5 {
		pushUntil(http.StatusOK)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	missing := 0
	for _, id := range accepted {
		var one int
		if err := db.QueryRow(`SELECT 1 FROM posts WHERE source = 'hook' AND native_id = ?`, id).Scan(&one); err != nil {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d accepted posts are not stored", missing, len(accepted))
	}
	t.Logf("disk full: %d pushes, %d accepted and stored", n, len(accepted))
}
