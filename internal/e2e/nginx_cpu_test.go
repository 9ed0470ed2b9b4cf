package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// TestNginxCPUPerDelivery measures what nginx in front of Wallcast costs
// per delivery, for the capacity model: the CPU time of nginx's worker
// while its screens each read the same posts, once proxying plain HTTP
// and once terminating TLS 1.3 (the deployment's configuration). CI runs
// it with 20 screens to keep it working; the figures in
// docs/deployment.md come from
//
//	WALLCAST_NGINX_SCREENS=2000 go test -run TestNginxCPUPerDelivery -v ./internal/e2e/
func TestNginxCPUPerDelivery(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		needed(t, "nginx not installed (apt-get install -y nginx-light)")
	}
	screens, posts := 20, 20
	if v, err := strconv.Atoi(os.Getenv("WALLCAST_NGINX_SCREENS")); err == nil && v > 0 {
		screens, posts = v, 100
	}
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0", max_streams: 100000, max_streams_per_client: 100000}
storage: {path: %q}
sources:
  - {name: hook, type: webhook, flavor: wallcast, secret: "${WALLCAST_TEST_HOOK_SECRET}", max_posts_per_minute: 1000000}
walls:
  - {slug: devconf, hashtags: [devconf], sources: [hook], display: {max_posts: 10}}
`, filepath.Join(dir, "wallcast.db"))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startFile(t, path)
	defer a.Shutdown()
	writeCert(t, dir)
	text := strings.Repeat("Great keynote on open protocols, the room is packed. ", 5)[:250] + " #devconf #opensource"
	n := 0
	for _, withTLS := range []bool{false, true} {
		sub := filepath.Join(dir, fmt.Sprint("nginx-", withTLS))
		os.Mkdir(sub, 0o755)
		addr := freePort(t)
		listen := addr
		if withTLS {
			listen += fmt.Sprintf(" ssl;\n    ssl_certificate %[1]s/nats.crt;\n    ssl_certificate_key %[1]s/nats.key;\n    ssl_protocols TLSv1.3", dir)
		}
		site := fmt.Sprintf(`server {
    listen %s;
    location / {
        proxy_pass http://%s;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_read_timeout 1h;
    }
}
`, listen, a.Addr())
		master := runNginx(t, bin, sub, addr, site)
		worker := nginxWorker(t, master)

		var wg sync.WaitGroup
		var mu sync.Mutex
		got := 0
		ready := make(chan error, screens)
		for range screens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, r, err := openThrough(addr, withTLS, nil)
				ready <- err
				if err != nil {
					return
				}
				defer c.Close()
				for k := 0; k < posts; {
					ev, err := r.Next()
					if err != nil {
						return
					}
					if ev.Type == string(wall.EventPost) {
						k++
					}
				}
				mu.Lock()
				got++
				mu.Unlock()
			}()
		}
		for range screens {
			if err := <-ready; err != nil {
				log, _ := os.ReadFile(filepath.Join(sub, "error.log"))
				t.Fatalf("a screen through nginx: %v %s", err, log)
			}
		}
		cpu0 := cpuOf(t, worker)
		for range posts {
			body := fmt.Sprintf(`{"id":"cpu-%d","author":{"name":"Ana Lima","handle":"@ana@social.example"},"url":"https://social.example/@ana/%d","text":%q}`, n, 100000+n, text)
			n++
			if resp, err := pushBody(http.DefaultClient, a.Addr(), body); err != nil || resp.StatusCode != 200 {
				t.Fatalf("push: %v %v", resp, err)
			}
			time.Sleep(10 * time.Millisecond) // one post at a time, as a wall gets them
		}
		wg.Wait()
		cpu := cpuOf(t, worker) - cpu0
		if got != screens {
			t.Fatalf("%d of %d screens read every post", got, screens)
		}
		mode := "plain HTTP"
		if withTLS {
			mode = "TLS 1.3"
		}
		t.Logf("nginx (%s): %d screens × %d posts: worker CPU %s, %.2f µs per delivery", mode, screens, posts, cpu, float64(cpu.Microseconds())/float64(screens*posts))
	}
}

// openThrough opens a screen's stream (through nginx, with TLS or not)
// and reads to ready; wrap, if set, wraps the TCP connection first.
func openThrough(addr string, withTLS bool, wrap func(net.Conn) net.Conn) (net.Conn, *sse.Reader, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if wrap != nil {
		c = wrap(c)
	}
	fail := func(err error) (net.Conn, *sse.Reader, error) {
		c.Close()
		return nil, nil, err
	}
	if withTLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return fail(err)
		}
		c = tc
	}
	io.WriteString(c, "GET /walls/devconf/events HTTP/1.1\r\nHost: wall\r\nAccept: text/event-stream\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != 200 {
		return fail(fmt.Errorf("stream: %s", resp.Status))
	}
	r := sse.NewReader(resp.Body)
	for {
		ev, err := r.Next()
		if err != nil {
			return fail(err)
		}
		if ev.Type == string(wall.EventReady) {
			return c, r, nil
		}
	}
}

// nginxWorker is the pid of the worker of an nginx master.
func nginxWorker(t *testing.T, master int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", master, master))
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx started no worker")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuOf is a process's user and system CPU time, from /proc.
func cpuOf(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command (in parentheses): utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
