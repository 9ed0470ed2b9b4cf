package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wallcast/wallcast/cluster"
	"github.com/wallcast/wallcast/internal/app"
	"github.com/wallcast/wallcast/sources"
	"github.com/wallcast/wallcast/wall"
)

const (
	testEdgePassword   = "edge-secret-for-tests"
	testIngestPassword = "ingest-secret-for-tests"
)

// embeddedYAML is a webhook wall on an ingest node that runs NATS inside
// itself with the edges' password; edges read the same file.
const embeddedYAML = `server: {listen: "127.0.0.1:0", sse_retry: 200ms}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, title: DevConf, hashtags: [devconf], sources: [hook], display: {max_posts: 30, logo: logo.svg}}
cluster:
  embedded: {listen: "127.0.0.1:%d", dir: nats, edge_password: "${WALLCAST_TEST_EDGE_PASSWORD}"}
  user: wallcast
  password: "${WALLCAST_TEST_NATS_PASSWORD}"
  window: 1000
  unhealthy_after: 1s
`

func writeEmbeddedConfig(t *testing.T, dir string, natsPort int) string {
	t.Helper()
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	t.Setenv("WALLCAST_TEST_EDGE_PASSWORD", testEdgePassword)
	t.Setenv("WALLCAST_TEST_NATS_PASSWORD", testIngestPassword)
	path := filepath.Join(dir, "config.yaml")
	y := fmt.Sprintf(embeddedYAML, filepath.Join(dir, "wallcast.db"), natsPort)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logo.svg"), []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClusterTrustBoundary: the embedded NATS takes no one without a
// password; the user edge reads the stream and the bucket (a real edge
// serves screens with it) but can write neither a wall's event nor the
// walls; only the ingest node's own user can.
func TestClusterTrustBoundary(t *testing.T) {
	dir := t.TempDir()
	np := port(t)
	path := writeEmbeddedConfig(t, dir, np)
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	e := startEdgeFile(t, path)
	s := openTab(t, e.Addr(), "")
	s.until(t, wall.EventReady)
	url := fmt.Sprintf("nats://127.0.0.1:%d", np)

	for name, opts := range map[string][]nats.Option{
		"anonymous":                              nil,
		"wrong password":                         {nats.UserInfo("edge", "guess")},
		"ingest's user with the edge's password": {nats.UserInfo("wallcast", testEdgePassword)},
	} {
		if nc, err := nats.Connect(url, opts...); err == nil {
			nc.Close()
			t.Errorf("%s: connected to the embedded NATS", name)
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: %v, want an authorization error", name, err)
		}
	}

	denied := make(chan error, 16)
	nc, err := nats.Connect(url, nats.UserInfo("edge", testEdgePassword), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatalf("edge user: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	forged := nats.NewMsg("wallcast.wall.devconf")
	forged.Header.Set("Wallcast-Seq", "999999999999")
	forged.Header.Set("Wallcast-Prev", "0")
	forged.Header.Set("Wallcast-Type", "post")
	forged.Data = []byte(`{"id":"x","html":"<meta http-equiv=refresh content=\"0;url=https://evil.example\">"}`)
	short, stop := context.WithTimeout(ctx, time.Second)
	if _, err := js.PublishMsg(short, forged); err == nil {
		t.Error("the edge user published on a wall's subject")
	}
	stop()
	kv, err := js.KeyValue(ctx, "wallcast-walls")
	if err != nil {
		t.Fatalf("the edge user cannot read the bucket: %v", err)
	}
	short, stop = context.WithTimeout(ctx, time.Second)
	if _, err := kv.Put(short, "walls", []byte(`[{"slug":"devconf","display":{"logo":"/etc/passwd"}}]`)); err == nil {
		t.Error("the edge user wrote the walls")
	}
	stop()
	if err := nc.Publish("wallcast.tally", []byte(`{}`)); err != nil {
		t.Errorf("the edge user cannot publish a report: %v", err)
	}
	nc.Flush()
	select {
	case err := <-denied:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("denied with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the server said nothing of the denied publishes")
	}

	// The stream holds only what the ingest node wrote, and the edge
	// serves the next real post.
	pushAll(t, a.Addr(), "real", 1)
	evs := s.posts(t, 1)
	for _, ev := range evs {
		if strings.Contains(ev.Data, "evil.example") {
			t.Fatalf("a forged event reached a screen: %s", ev.Data)
		}
	}
	if err := a.Outbox().Problem(); err != nil {
		t.Errorf("outbox alarm: %v", err)
	}
	// The ingest node's own user may write (the operator's tools).
	admin, err := nats.Connect(url, nats.UserInfo("wallcast", testIngestPassword))
	if err != nil {
		t.Fatalf("the ingest node's user: %v", err)
	}
	admin.Close()
}

// TestClusterOutboxCursorNeverPastHead: a message on the stream that the
// ingest node did not write (here on an open test NATS: a huge
// Wallcast-Seq) does not become the outbox's cursor; /healthz says why
// and events keep being published.
func TestClusterOutboxCursorNeverPastHead(t *testing.T) {
	n := startNATS(t, false)
	dir := t.TempDir()
	path := writeClusterConfig(t, dir, 1000, 1, n.url())
	a := startFile(t, path)
	pushAll(t, a.Addr(), "a", 3)
	waitStream(t, n.url(), 3)
	nc, err := nats.Connect(n.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := nats.NewMsg("wallcast.wall.devconf")
	forged.Header.Set("Wallcast-Seq", "999999999999")
	forged.Header.Set("Wallcast-Type", "post")
	forged.Data = []byte(`{"id":"forged"}`)
	js, _ := jetstream.New(nc)
	if _, err := js.PublishMsg(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	a.Shutdown()

	a = startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	deadline := time.Now().Add(10 * time.Second)
	for a.Outbox().Problem() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no alarm for a message the ingest node did not write")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + a.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "not written by this ingest node") {
		t.Errorf("/healthz: %s %s", resp.Status, body)
	}
	resp, err = http.Get("http://" + a.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "wallcast_outbox_alarm 1") {
		t.Error("wallcast_outbox_alarm is not 1")
	}
	head, _ := a.DB().Head(context.Background())
	if cur, _ := a.DB().Published(context.Background(), "wallcast"); cur > head {
		t.Errorf("outbox cursor %d is past the database's head %d", cur, head)
	}
	pushAll(t, a.Addr(), "b", 2)
	waitStream(t, n.url(), 6) // 3 + the forged one + 2
	if p := a.Outbox().Pending(); p != 0 {
		t.Errorf("%d events pending after the alarm", p)
	}
}

// waitStream waits until the stream holds n messages.
func waitStream(t *testing.T, url string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for streamMsgs(t, url) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d of %d messages", streamMsgs(t, url), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 (its own CA)
// as nats.crt and nats.key in dir.
func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wallcast test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "nats.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "nats.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
}

// TestClusterTLS: with cluster.tls the embedded NATS takes TLS only; an
// edge checks it against the CA and serves screens; a plain client is
// turned away.
func TestClusterTLS(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir)
	np := port(t)
	path := writeEmbeddedConfig(t, dir, np)
	y, _ := os.ReadFile(path)
	os.WriteFile(path, append(y, []byte("  tls: {cert: nats.crt, key: nats.key, ca: nats.crt}\n")...), 0o600)
	var logs strings.Builder
	cfg, err := sources.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown() })
	e := startEdgeFile(t, path)
	s := openTab(t, e.Addr(), "")
	s.until(t, wall.EventReady)
	pushAll(t, a.Addr(), "tls", 2)
	s.posts(t, 2)
	url := fmt.Sprintf("nats://127.0.0.1:%d", np)
	if nc, err := nats.Connect(url, nats.UserInfo("edge", testEdgePassword)); err == nil {
		nc.Close()
		t.Error("a client without TLS connected")
	}
	for _, secret := range []string{testEdgePassword, testIngestPassword} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a log line shows a NATS password")
		}
	}
}

// TestNATSServerExample: deploy/nats/nats-server.conf gives the user edge
// exactly the rights the embedded server gives it, and Debian's
// nats-server runs an ingest node and an edge with it.
func TestNATSServerExample(t *testing.T) {
	t.Setenv("WALLCAST_NATS_PASSWORD", testIngestPassword)
	t.Setenv("WALLCAST_EDGE_PASSWORD", testEdgePassword)
	opts, err := server.ProcessConfigFile("../../deploy/nats/nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	var edgePerms *server.Permissions
	for _, u := range opts.Users {
		if u.Username == "edge" {
			edgePerms = u.Permissions
		}
	}
	want := cluster.EdgePermissions("wallcast")
	if edgePerms == nil || !slices.Equal(sorted(edgePerms.Publish.Allow), sorted(want.Publish.Allow)) || !slices.Equal(edgePerms.Subscribe.Allow, want.Subscribe.Allow) {
		t.Fatalf("the example's edge permissions differ from the embedded server's:\n%+v\n%+v", edgePerms.Publish, want.Publish)
	}
	if _, err := exec.LookPath("nats-server"); err != nil {
		needed(t, "nats-server not installed (apt-get install -y nats-server)")
	}
	dir := t.TempDir()
	np := port(t)
	conf, _ := os.ReadFile("../../deploy/nats/nats-server.conf")
	confPath := filepath.Join(dir, "nats-server.conf")
	os.WriteFile(confPath, []byte(strings.Replace(string(conf), "/var/lib/nats", filepath.Join(dir, "js"), 1)), 0o600)
	cmd := exec.Command("nats-server", "-c", confPath, "-a", "127.0.0.1", "-p", strconv.Itoa(np))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("nats://127.0.0.1:%d", np)
	path := writeClusterConfig(t, dir, 1000, 1, url)
	y, _ := os.ReadFile(path)
	os.WriteFile(path, append(y, []byte("  user: \"${WALLCAST_TEST_NATS_USER:-wallcast}\"\n  password: \"${WALLCAST_NATS_PASSWORD}\"\n")...), 0o600)
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	pushAll(t, a.Addr(), "x", 1)
	t.Setenv("WALLCAST_TEST_NATS_USER", "edge")
	t.Setenv("WALLCAST_NATS_PASSWORD", testEdgePassword)
	e := startEdgeFile(t, path)
	s := openTab(t, e.Addr(), "")
	s.until(t, wall.EventReady)
	pushAll(t, a.Addr(), "y", 2)
	s.posts(t, 2)
	nc, err := nats.Connect(url, nats.UserInfo("edge", testEdgePassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "wallcast.wall.devconf", []byte("{}")); err == nil {
		t.Error("the example lets the edge user publish on a wall's subject")
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// syncWriter lets a logger write from several goroutines into a builder.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestClusterForgetErasesTheStream: forgetting an author erases every
// message of the stream that carried their posts (post events, a show
// that featured one), edges drop their copies and screens get remove; a
// new edge replays nothing of them.
func TestClusterForgetErasesTheStream(t *testing.T) {
	n := startNATS(t, false)
	dir := t.TempDir()
	path := writeClusterConfig(t, dir, 1000, 1, n.url())
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	e := startEdgeFile(t, path)
	s := openTab(t, e.Addr(), "")
	s.until(t, wall.EventReady)
	const name, handle = "Zyxwvu Qtrsp", "@zyxwvu.qtrsp@evil.example"
	for i, text := range []string{"first words #devconf", "second words #devconf"} {
		b := fmt.Sprintf(`{"id":"z%d","author":{"name":%q,"handle":%q},"text":%q,"tags":["devconf"]}`, i, name, handle, text)
		if resp, err := pushBody(http.DefaultClient, a.Addr(), b); err != nil || resp.StatusCode != 200 {
			t.Fatalf("push: %v %v", err, resp)
		}
	}
	pushAll(t, a.Addr(), "other", 1)
	s.posts(t, 3)
	ctx := context.Background()
	if err := a.Pipeline().Do(func() ([]wall.Event, error) {
		ev, _, err := a.DB().Show(ctx, "devconf", wall.ShowChange{Action: "feature", PostID: "hook:z0", Seconds: 60}, "crew")
		return ev, err
	}); err != nil {
		t.Fatal(err)
	}
	s.until(t, wall.EventShow)
	waitStream(t, n.url(), 4)
	if err := a.Pipeline().Do(func() ([]wall.Event, error) {
		ev, _, err := a.DB().Forget(ctx, handle, "admin")
		return ev, err
	}); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for removed < 2 {
		for _, ev := range s.until(t, wall.EventRemove) {
			if ev.Type == string(wall.EventRemove) {
				removed++
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, err := a.DB().Purges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still to erase from the stream", len(left))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every message left on the stream, read whole.
	nc, err := nats.Connect(n.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cons, err := js.OrderedConsumer(ctx, "wallcast", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := js.Stream(ctx, "wallcast")
	info, _ := st.Info(ctx)
	for seen := uint64(0); seen < info.State.LastSeq; {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, _ := m.Metadata()
			seen = meta.Sequence.Stream
			if strings.Contains(string(m.Data()), "yxwvu") || strings.Contains(fmt.Sprint(m.Headers()), "yxwvu") {
				t.Errorf("stream message %d still carries the author: %s", seen, m.Data())
			}
		}
		if got == 0 {
			break
		}
	}
	// The edge's copies, as a screen resuming from the start or a new
	// screen gets them.
	evs, _, _ := e.Feed().Replay(ctx, "devconf", 0, 1000)
	snap, _ := e.Feed().Snapshot(ctx, "devconf", 100)
	if b, _ := json.Marshal([]any{evs, snap}); strings.Contains(string(b), "yxwvu") {
		t.Errorf("the edge still holds the author: %s", b)
	}
	e2 := startEdgeFile(t, path)
	evs, _, _ = e2.Feed().Replay(ctx, "devconf", 0, 1000)
	if b, _ := json.Marshal(evs); strings.Contains(string(b), "yxwvu") {
		t.Errorf("a new edge replays the author: %s", b)
	}
}

// TestEdgeServesOnlyItsOwnFiles: walls in the bucket that name a file the
// edge's own config does not (here put there on an open test NATS) do not
// make the edge serve it; the edge's own logo is still served.
func TestEdgeServesOnlyItsOwnFiles(t *testing.T) {
	n := startNATS(t, false)
	dir := t.TempDir()
	path := writeClusterConfig(t, dir, 1000, 1, n.url())
	y, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(y), "display: {max_posts: 30}", "display: {max_posts: 30, logo: logo.svg}", 1)), 0o600)
	os.WriteFile(filepath.Join(dir, "logo.svg"), []byte(`<svg xmlns="http://www.w3.org/2000/svg"><title>own logo</title></svg>`), 0o600)
	secret := filepath.Join(t.TempDir(), "secret.env")
	os.WriteFile(secret, []byte("WALLCAST_ADMIN_HASH=not-for-screens"), 0o600)
	a := startFile(t, path)
	t.Cleanup(func() { a.Shutdown() })
	e := startEdgeFile(t, path)
	get := func(p string) (int, string) {
		resp, err := http.Get("http://" + e.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := get("/walls/devconf/logo"); code != 200 || !strings.Contains(body, "own logo") {
		t.Fatalf("the edge's own logo: %d %q", code, body)
	}
	nc, err := nats.Connect(n.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), "wallcast-walls")
	if err != nil {
		t.Fatal(err)
	}
	forged := fmt.Sprintf(`[{"slug":"devconf","title":"Forged Wall","hashtags":["devconf"],"sources":["hook"],"moderation":"auto","display":{"layout":"grid","theme":"dark","max_posts":30,"font_scale":1,"spotlight_seconds":8,"logo":%q,"custom_css":%q}}]`, secret, secret)
	if _, err := kv.Put(context.Background(), "walls", []byte(forged)); err != nil {
		t.Fatal(err)
	}
	// The edge has taken the forged walls once its page shows their title.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, page := get("/walls/devconf"); strings.Contains(page, "Forged Wall") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the walls put in the bucket did not reach the edge")
		}
	}
	for _, p := range []string{"/walls/devconf/logo", "/walls/devconf/custom.css"} {
		if code, body := get(p); strings.Contains(body, "not-for-screens") {
			t.Errorf("%s: the edge served a file named on NATS: %d %q", p, code, body)
		}
	}
}
