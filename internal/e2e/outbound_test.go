package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wallcast/wallcast/outbound"
	"github.com/wallcast/wallcast/sources/webhook"
	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// TestOutboundCrashRounds kills the real server with SIGKILL at random
// moments while posts come in by webhook and go out to an outbound
// endpoint, round after round on one database. At the end every post
// answered 2xx reached the endpoint as a "shown" delivery, and whatever
// came twice came with the same delivery id and the same body: nothing
// lost, nothing sent twice without the same id.
func TestOutboundCrashRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	t.Setenv("WALLCAST_TEST_OUT_SECRET", "out-secret")
	var mu sync.Mutex
	bodies := map[string][]byte{} // delivery id → body
	byPost := map[string]string{} // post id → delivery id
	repeats := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Wallcast-Signature") != webhook.Sign("out-secret", r.Header.Get("X-Wallcast-Timestamp"), body) {
			t.Errorf("a delivery with a wrong signature")
			w.WriteHeader(401)
			return
		}
		var d outbound.Delivery
		json.Unmarshal(body, &d)
		var p wall.Post
		json.Unmarshal(d.Data, &p)
		mu.Lock()
		defer mu.Unlock()
		if old, ok := bodies[d.ID]; ok {
			repeats++
			if !bytes.Equal(old, body) {
				t.Errorf("delivery %s came twice with different bodies:\n%s\n%s", d.ID, old, body)
			}
		}
		bodies[d.ID] = body
		if prev, ok := byPost[p.ID]; ok && prev != d.ID {
			t.Errorf("post %s was delivered as %s and as %s", p.ID, prev, d.ID)
		}
		byPost[p.ID] = d.ID
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	dir := t.TempDir()
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`server: {listen: %q}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook]}
outbound:
  - {name: cms, url: %q, secret: "${WALLCAST_TEST_OUT_SECRET}", events: [shown]}
`, addr, filepath.Join(dir, "w.db"), recv.URL+"/wallcast")), 0o600)

	var accepted []string
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	c := &http.Client{Timeout: 5 * time.Second}
	for round := range 4 {
		p := startBinary(t, cfgPath)
		for i := range 25 {
			id := fmt.Sprintf("r%d-%02d", round, i)
			if code, err := push(c, addr, id); err == nil && code == 200 {
				accepted = append(accepted, "hook:"+id)
			}
		}
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond) // deliveries under way
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	if len(accepted) < 50 {
		t.Fatalf("only %d posts accepted", len(accepted))
	}
	p := startBinary(t, cfgPath)
	defer func() { p.cmd.Process.Signal(syscall.SIGTERM); <-p.exited }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		missing := 0
		for _, id := range accepted {
			if _, ok := byPost[id]; !ok {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted posts never reached the endpoint", missing, len(accepted))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d posts over 4 kills: all delivered, %d deliveries repeated with their id", len(accepted), repeats)
}

// TestOutboundState: an endpoint that refuses shows as retrying, with its
// attempts and error, in the console's stream; /stats shows its state and
// figures to anyone, but not its host nor its error.
func TestOutboundState(t *testing.T) {
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	t.Setenv("WALLCAST_TEST_OUT_SECRET", "out-secret")
	h, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	t.Setenv("TEST_HASH", string(h))
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: %q}
admin: {user: ana, password_hash: "${TEST_HASH}"}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}"}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook]}
outbound:
  - {name: cms, url: %q, secret: "${WALLCAST_TEST_OUT_SECRET}"}
`, filepath.Join(dir, "w.db"), down.URL+"/hook?token=abc")), 0o600)
	a := startFile(t, path)
	defer a.Shutdown()
	pushAll(t, a.Addr(), "x", 1)

	state := func(c *http.Client, url, want string) []wall.EndpointHealth {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			resp, err := c.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			r := sse.NewReader(resp.Body)
			var got []wall.EndpointHealth
			for {
				ev, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type == string(wall.EventOutbound) {
					json.Unmarshal([]byte(ev.Data), &got)
					break
				}
			}
			resp.Body.Close()
			if len(got) == 1 && got[0].State == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: outbound %+v, want state %s", url, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c, _ := login(t, "http://"+a.Addr(), "devconf", nil)
	got := state(c, "http://"+a.Addr()+"/admin/walls/devconf/queue/events", "retrying")[0]
	if got.Name != "cms" || got.Attempts < 1 || got.LastError != "HTTP 503" || got.Host == "" || bytes.Contains([]byte(got.Host), []byte("token")) {
		t.Fatalf("console: %+v", got)
	}
	pub := state(http.DefaultClient, "http://"+a.Addr()+"/stats", "retrying")[0]
	if pub.Host != "" || pub.LastError != "" || pub.Name != "cms" {
		t.Fatalf("/stats shows %+v", pub)
	}
}
