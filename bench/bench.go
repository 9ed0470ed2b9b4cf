// Package bench is Wallcast's load tool: it opens many screens on a running
// server, publishes posts through the server's real ingest path (a signed
// webhook), and reports what a user sizing a server needs: screens held,
// server memory per screen, server CPU per delivery, latency from publish
// to screen, deliveries per second, and events lost.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options says what to measure.
type Options struct {
	URL         string        // the server, e.g. http://127.0.0.1:8080
	Wall        string        // the wall the screens open
	Hook        string        // the webhook source the posts go through
	Secret      string        // its secret
	Subscribers int           // screens to open
	Rate        float64       // posts per second
	Duration    time.Duration // how long to publish
	PID         int           // the server's process id, for memory and CPU (0: not measured)
	// Sources are the local addresses screens connect from, used in turn,
	// so more screens than one address's ephemeral ports can connect
	// (about 28,000 on Linux).
	Sources []string
	// PerSource is how many screens connect from one source address.
	PerSource int
	Grace     time.Duration // how long to wait for the last posts to arrive
}

// Result is what a run measured.
type Result struct {
	Subscribers, Connected, Dropped int
	RSSBefore, RSSAfter             int64 // bytes
	Published                       int
	Deliveries                      int64
	Lost                            int64
	CPU                             time.Duration // server user+system time while publishing
	Elapsed                         time.Duration
	P50, P90, P99, Max              time.Duration
}

// screen is one subscriber.
type screen struct {
	conn    net.Conn
	got     map[int]bool
	lat     []time.Duration
	dropped atomic.Bool // the server closed the stream during the run
	closing atomic.Bool // we are closing it: the run is over
}

// Run does one measurement and prints a report to out.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	raiseFileLimit()
	if o.PerSource == 0 {
		o.PerSource = 20000
	}
	if len(o.Sources) == 0 {
		o.Sources = []string{"127.0.0.1"}
	}
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return Result{}, fmt.Errorf("bench: -url %q is not a URL", o.URL)
	}
	res := Result{Subscribers: o.Subscribers}
	res.RSSBefore = rss(o.PID)

	// The run's posts have ids only it uses, so screens can tell them apart.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	sent := newSendTimes()

	fmt.Fprintf(out, "opening %d screens on %s/walls/%s/events …\n", o.Subscribers, o.URL, o.Wall)
	screens := make([]*screen, o.Subscribers)
	var wg sync.WaitGroup
	ready := make(chan error, o.Subscribers)
	sem := make(chan struct{}, 200) // connect in waves
	for i := range screens {
		src := o.Sources[(i/o.PerSource)%len(o.Sources)]
		sem <- struct{}{}
		s, err := dial(ctx, u.Host, src, o.Wall)
		<-sem
		if err != nil {
			return res, fmt.Errorf("bench: screen %d: %w", i, err)
		}
		screens[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.read(run, sent, ready)
		}()
	}
	for range screens {
		if err := <-ready; err != nil {
			return res, err
		}
	}
	res.Connected = o.Subscribers
	time.Sleep(time.Second) // let the server settle before reading its memory
	res.RSSAfter = rss(o.PID)
	fmt.Fprintf(out, "%d screens connected\n", o.Subscribers)

	cpu0 := cpuTime(o.PID)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.Rate)
	tick := time.NewTicker(interval)
	client := &http.Client{Timeout: 10 * time.Second}
	n := 0
	for time.Since(start) < o.Duration {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		if err := publish(client, o, run, n, sent); err != nil {
			tick.Stop()
			return res, err
		}
		n++
	}
	tick.Stop()
	res.Published = n
	// Wait until every screen has every post, or the grace time is over.
	deadline := time.Now().Add(o.Grace)
	for time.Now().Before(deadline) {
		if complete(screens, n) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.Elapsed = time.Since(start)
	res.CPU = cpuTime(o.PID) - cpu0
	var all []time.Duration
	for _, s := range screens {
		s.closing.Store(true)
		s.conn.Close()
	}
	wg.Wait()
	for _, s := range screens {
		all = append(all, s.lat...)
		res.Deliveries += int64(len(s.got))
		res.Lost += int64(n - len(s.got))
		if s.dropped.Load() {
			res.Dropped++
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
		res.P50, res.P90, res.P99, res.Max = q(.50), q(.90), q(.99), all[len(all)-1]
	}
	report(out, o, res)
	return res, nil
}

func complete(screens []*screen, n int) bool {
	for _, s := range screens {
		if s.count() < n {
			return false
		}
	}
	return true
}

// dial opens one screen from a source address and sends the request.
func dial(ctx context.Context, host, src, wall string) (*screen, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "GET /walls/%s/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nUser-Agent: wallcast-bench\r\n\r\n", url.PathEscape(wall), host)
	return &screen{conn: c, got: map[int]bool{}}, nil
}

var mu sync.Mutex // guards screen.got and screen.lat against the report

func (s *screen) count() int {
	mu.Lock()
	defer mu.Unlock()
	return len(s.got)
}

// read follows the stream, noting when each of the run's posts arrives.
func (s *screen) read(run string, sent *sendTimes, ready chan<- error) {
	br := bufio.NewReaderSize(s.conn, 4096)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		ready <- fmt.Errorf("bench: the server answered %q (%v)", strings.TrimSpace(status), err)
		return
	}
	signalled := false
	marker := []byte(`"id":"`)
	prefix := []byte("bench-" + run + "-")
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if !errors.Is(err, bufio.ErrBufferFull) {
				if !signalled {
					ready <- fmt.Errorf("bench: stream closed before it started: %v", err)
				}
				if !s.closing.Load() {
					s.dropped.Store(true)
				}
				return
			}
		}
		if !signalled && bytes.HasPrefix(line, []byte("retry:")) {
			signalled = true
			ready <- nil
		}
		if !bytes.HasPrefix(line, []byte("data: ")) {
			continue
		}
		i := bytes.Index(line, marker)
		if i < 0 {
			continue
		}
		rest := line[i+len(marker):]
		j := bytes.Index(rest, prefix)
		if j < 0 || j > 64 {
			continue
		}
		num := rest[j+len(prefix):]
		k := bytes.IndexByte(num, '"')
		if k < 0 {
			continue
		}
		n, err := strconv.Atoi(string(num[:k]))
		if err != nil {
			continue
		}
		at := time.Now()
		if t, ok := sent.get(n); ok {
			mu.Lock()
			if !s.got[n] {
				s.got[n] = true
				s.lat = append(s.lat, at.Sub(t))
			}
			mu.Unlock()
		}
	}
}

type sendTimes struct {
	mu sync.RWMutex
	m  map[int]time.Time
}

func newSendTimes() *sendTimes { return &sendTimes{m: map[int]time.Time{}} }

func (s *sendTimes) get(n int) (time.Time, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.m[n]
	return t, ok
}

// publish sends post n through the webhook, signed.
func publish(c *http.Client, o Options, run string, n int, sent *sendTimes) error {
	body := fmt.Sprintf(`{"id":"bench-%s-%d","author":{"name":"Wallcast bench"},"text":"Load test post %d #bench","network":"web"}`, run, n, n)
	req, _ := http.NewRequest(http.MethodPost, strings.TrimRight(o.URL, "/")+"/hooks/"+url.PathEscape(o.Hook), strings.NewReader(body))
	m := hmac.New(sha256.New, []byte(o.Secret))
	m.Write([]byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Wallcast-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	req.Header.Set("X-Wallcast-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	sent.mu.Lock()
	sent.m[n] = time.Now()
	sent.mu.Unlock()
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("bench: publish: %w", err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("bench: publish: the webhook answered %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

func report(out io.Writer, o Options, r Result) {
	fmt.Fprintf(out, "\nscreens          %d opened, %d still connected at the end, %d dropped\n", r.Subscribers, r.Subscribers-r.Dropped, r.Dropped)
	if o.PID > 0 {
		fmt.Fprintf(out, "server RSS       %.1f MiB before, %.1f MiB with the screens: %.2f KiB per screen\n",
			float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), float64(r.RSSAfter-r.RSSBefore)/1024/float64(max(r.Subscribers, 1)))
		if r.Deliveries > 0 {
			fmt.Fprintf(out, "server CPU       %.2f s over the run: %.2f µs per delivery\n", r.CPU.Seconds(), float64(r.CPU.Microseconds())/float64(r.Deliveries))
		}
	}
	fmt.Fprintf(out, "published        %d posts at %.1f/s\n", r.Published, o.Rate)
	fmt.Fprintf(out, "deliveries       %d (%.0f/s)\n", r.Deliveries, float64(r.Deliveries)/r.Elapsed.Seconds())
	fmt.Fprintf(out, "latency          p50 %s  p90 %s  p99 %s  max %s  (publish request sent → event read by the screen)\n",
		round(r.P50), round(r.P90), round(r.P99), round(r.Max))
	fmt.Fprintf(out, "lost             %d\n", r.Lost)
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// rss reads a process's resident memory from /proc (0 when unknown).
func rss(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuTime reads a process's user+system time from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// raiseFileLimit lifts this process's open-file limit to the hard limit.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
