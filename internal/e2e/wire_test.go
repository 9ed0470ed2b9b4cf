package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// countingConn counts the bytes a connection reads from the wire.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// TestWireBytesPerDelivery measures what one post costs on a screen's
// wire, for the capacity model: the TCP payload a screen reads per post,
// straight from Wallcast and through Debian's nginx terminating TLS (the
// deployment's configuration with listen … ssl), with a typical post: 280
// characters, a name, a link, two tags. It logs the figures and checks
// TLS adds a record's overhead and no more.
func TestWireBytesPerDelivery(t *testing.T) {
	t.Setenv("WALLCAST_TEST_HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	a := startFile(t, writeHookConfig(t, dir))
	defer a.Shutdown()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		needed(t, "nginx not installed (apt-get install -y nginx-light)")
	}
	writeCert(t, dir)
	addr := freePort(t)
	site := fmt.Sprintf(`server {
    listen %[1]s ssl;
    ssl_certificate %[2]s/nats.crt;
    ssl_certificate_key %[2]s/nats.key;
    ssl_protocols TLSv1.3;
    location / {
        proxy_pass http://%[3]s;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_read_timeout 1h;
    }
}
`, addr, dir, a.Addr())
	runNginx(t, bin, dir, addr, site)

	open := func(withTLS bool) (*sse.Reader, *atomic.Int64) {
		var n atomic.Int64
		target := a.Addr()
		if withTLS {
			target = addr
		}
		c, r, err := openThrough(target, withTLS, func(c net.Conn) net.Conn { return countingConn{c, &n} })
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("stream (TLS through nginx: %v): %v %s", withTLS, err, log)
		}
		t.Cleanup(func() { c.Close() })
		return r, &n
	}
	plain, plainN := open(false)
	secure, secureN := open(true)
	plain0, secure0 := plainN.Load(), secureN.Load()
	const posts = 50
	text := strings.Repeat("Great keynote on open protocols, the room is packed. ", 5)[:250] + " #devconf #opensource"
	for i := range posts {
		body := fmt.Sprintf(`{"id":"wire-%d","author":{"name":"Ana Lima","handle":"@ana@social.example"},"url":"https://social.example/@ana/%d","text":%q}`, i, 100000+i, text)
		if resp, err := pushBody(http.DefaultClient, a.Addr(), body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("push: %v %v", resp, err)
		}
	}
	var eventBytes int
	for _, r := range []*sse.Reader{plain, secure} {
		for got := 0; got < posts; {
			ev, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type == string(wall.EventPost) {
				got++
				eventBytes = len(ev.Data)
			}
		}
	}
	// Both have read every post: what is left unread is at most a
	// heartbeat; wait for the bytes of the last event to be counted.
	time.Sleep(100 * time.Millisecond)
	p := float64(plainN.Load()-plain0) / posts
	s := float64(secureN.Load()-secure0) / posts
	t.Logf("wire: a post of %d bytes of JSON is %.0f bytes of TCP payload straight from Wallcast and %.0f through nginx with TLS 1.3 (%+.0f); add the TCP/IP headers of its segment (52 bytes on IPv4 with timestamps)", eventBytes, p, s, s-p)
	if s <= p || s-p > 200 {
		t.Errorf("TLS through nginx: %.0f bytes a post against %.0f plain", s, p)
	}
}
