// Package bench is Wallcast's load tool: it opens many screens on a running
// server, publishes posts through the server's real ingest path (a signed
// webhook), and reports what a user sizing a server needs: screens held,
// server memory per screen, server CPU per delivery, latency from publish
// to screen, deliveries per second, and events lost.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wallcast/wallcast/sources/webhook"
)

// Options says what to measure.
type Options struct {
	URL string // the server, e.g. http://127.0.0.1:8080
	// URLs are more servers the screens open in turn with URL (edges of
	// a cluster); the latency is reported per server.
	URLs []string
	// PostURL is where posts go (default URL): a cluster's ingest node.
	PostURL     string
	Wall        string        // the wall the screens open
	Hook        string        // the webhook source the posts go through
	Secret      string        // its secret
	Subscribers int           // screens to open
	Rate        float64       // posts per second (requests, each of Batch posts)
	Batch       int           // posts per request (0: 1)
	Duration    time.Duration // how long to publish
	PID         int           // the server's process id, for memory and CPU (0: not measured)
	// PIDs are more processes measured with PID (memory and CPU summed).
	PIDs []int
	// Sources are the local addresses screens connect from, used in turn,
	// so more screens than one address's ephemeral ports can connect
	// (about 28,000 on Linux).
	Sources []string
	// PerSource is how many screens connect from one source address.
	PerSource int
	Grace     time.Duration // how long to wait for the last posts to arrive
	// Reconnect makes a screen whose stream the server closes come back,
	// as a browser does, to the next server with its Last-Event-ID.
	Reconnect bool
	// Procs is how many processes of this tool share the screens (one
	// process holds only as many sockets as its open-file limit).
	Procs int
	// Child, RunID, Posts and Offset make this run a share of another
	// process's: it opens Subscribers screens, the Offset-th on of the
	// run's, and reports to the parent through Child.
	Child  *ChildLink
	RunID  string
	Posts  int
	Offset int
	// Uploads is a burst of that many posts from phones, all at once,
	// halfway through the run, to the wall's form (0: none); each has a
	// photo of UploadWidth×UploadHeight.
	Uploads                   int
	UploadWidth, UploadHeight int
}

// Result is what a run measured.
type Result struct {
	Subscribers, Connected, Dropped int
	// RSSBefore and RSSAfter are the server's resident memory, settled
	// (the Go runtime gives back the garbage of the connection storm
	// within seconds); RSSPeak is right after the last screen connected.
	RSSBefore, RSSAfter, RSSPeak int64
	Published                    int
	Deliveries                   int64
	Lost                         int64
	Repeated                     int64         // posts a screen got more than once
	Moved                        int64         // streams the server closed that came back (Reconnect)
	CPU                          time.Duration // server user+system time while publishing
	ToolCPU                      time.Duration // this tool's, over the same time
	Elapsed                      time.Duration
	P50, P90, P99, Max           time.Duration
	// AnswerP50, AnswerP99 and AnswerMax are how long the webhook took to
	// answer a publish request (its posts committed), retries included.
	AnswerP50, AnswerP99, AnswerMax time.Duration
	// Publishing is how long the requests took to send.
	Publishing time.Duration
	// PerURL is the latency of the screens of each server, with URLs.
	PerURL []Latency
	// Burst is what the burst of uploads measured (nil: none).
	Burst *Burst
}

// Latency is what the screens of one server saw.
type Latency struct {
	URL                string
	P50, P90, P99, Max time.Duration
}

// quantiles sorts latencies and reads p50, p90, p99 and the max.
func quantiles(all []time.Duration) (p50, p90, p99, mx time.Duration) {
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) == 0 {
		return
	}
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	return q(.50), q(.90), q(.99), all[len(all)-1]
}

// screen is one subscriber. Screens are read by a few goroutines that poll
// an epoll instance of their own, not one goroutine each, and their sockets
// are out of the Go runtime's poller: the tool spends its CPU on reading,
// and the server's writes do not pay for waking the tool up (a screen on
// another machine would not cost the server that either).
type screen struct {
	sock             // the connection, as the platform reads it
	partial []byte   // an unfinished line
	body    bool     // the response's headers are read
	chunk   *dechunk // the body is chunked (through a proxy)
	got     []uint64 // bit n: post n arrived
	n       atomic.Int64
	ready   bool
	dropped atomic.Bool // the server closed the stream during the run
	repeats atomic.Int64
	closing atomic.Bool // we are closing it: the run is over
	url     int         // which of the servers it reads
	id      int32       // its place in its reader
	lastID  []byte      // the id of the last whole event it read (kept with Reconnect)
	nextID  []byte      // the id of the event being read
	moves   atomic.Int64
}

// Run does one measurement and prints a report to out.
func Run(ctx context.Context, o Options, out io.Writer) (Result, error) {
	raiseFileLimit()
	if o.PerSource == 0 {
		o.PerSource = 20000
	}
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	urls := append([]string{o.URL}, o.URLs...)
	hosts := make([]string, len(urls))
	for i, v := range urls {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			return Result{}, fmt.Errorf("bench: -url %q is not a URL", v)
		}
		hosts[i] = u.Host
	}
	u, _ := url.Parse(o.URL)
	if o.PostURL == "" {
		o.PostURL = o.URL
	}
	pids := append([]int{o.PID}, o.PIDs...)
	if len(o.Sources) == 0 {
		var err error
		if o.Sources, err = AutoSources(u.Hostname(), o.Subscribers, o.PerSource); err != nil {
			return Result{}, err
		}
	}
	res := Result{Subscribers: o.Subscribers}
	res.RSSBefore = sum(pids, settle)

	// The run's posts have ids only it uses, so screens can tell them apart.
	run := o.RunID
	if run == "" {
		run = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	o.Batch = max(o.Batch, 1)
	posts := (int(o.Rate*o.Duration.Seconds()) + 16) * o.Batch
	if o.Posts > 0 {
		posts = o.Posts
	}
	sent := newSendTimes(posts)

	from := strings.Join(o.Sources, ", ")
	if from == "" {
		from = "the system's choice of address"
	}
	// With Procs, other processes of this tool read a share of the
	// screens each (one process holds only so many sockets).
	local := o.Subscribers
	var kids []*child
	if o.Procs > 1 && o.Child == nil {
		share := (o.Subscribers + o.Procs - 1) / o.Procs
		local = min(share, o.Subscribers)
		for off := local; off < o.Subscribers; off += share {
			k, err := startChild(ctx, o, run, posts, off, min(share, o.Subscribers-off))
			if err != nil {
				return res, err
			}
			defer k.stop()
			kids = append(kids, k)
		}
	}
	if o.Child == nil {
		fmt.Fprintf(out, "opening %d screens on %s /walls/%s/events from %s (%d each at most) in %d processes …\n", o.Subscribers, strings.Join(urls, ", "), o.Wall, from, o.PerSource, 1+len(kids))
	}
	screens := make([]*screen, local)
	var wg sync.WaitGroup
	ready := make(chan error, len(screens))
	done := make(chan struct{})
	readers := make([]*reader, max(runtime.GOMAXPROCS(0), 1))
	for i := range readers {
		r, err := newReader(run, ready, len(screens), len(urls))
		if err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
		if o.Reconnect {
			r.reconnect = func(sc *screen) {
				// As EventSource: a moment later, to another server (a
				// load balancer's choice), from the last id read.
				for try := 0; ctx.Err() == nil && !sc.closing.Load(); try++ {
					time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
					if len(hosts) > 1 { // another server, as a load balancer spreads them
						sc.url = (sc.url + 1 + rand.IntN(len(hosts)-1)) % len(hosts)
					}
					g := int(sc.id) + o.Offset
					sk, err := open(ctx, hosts[sc.url], o.Sources[(g/o.PerSource)%len(o.Sources)], o.Wall, string(sc.lastID))
					if err != nil {
						continue
					}
					sc.sock, sc.partial, sc.body, sc.chunk = sk, nil, false, nil
					if r.add(sc.id, sc) == nil {
						return
					}
				}
			}
		}
		readers[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(done)
		}()
	}
	defer func() {
		select {
		case <-done:
		default:
			close(done)
		}
	}()
	for i := range screens {
		g := i + o.Offset // the screen's place among all the run's screens
		src := o.Sources[(g/o.PerSource)%len(o.Sources)]
		s, err := dial(ctx, hosts[g%len(hosts)], src, o.Wall, posts)
		if err != nil {
			return res, fmt.Errorf("bench: screen %d: %w", g, err)
		}
		s.url, s.id = g%len(hosts), int32(i)
		screens[i] = s
		if err := readers[i%len(readers)].add(int32(i), s); err != nil {
			return res, fmt.Errorf("bench: screen %d: %w", g, err)
		}
	}

	for range screens {
		if err := <-ready; err != nil {
			return res, err
		}
	}
	for _, k := range kids {
		if err := k.ready(); err != nil {
			return res, err
		}
	}
	res.Connected = o.Subscribers
	if o.Child != nil {
		// A share of another process's run: its screens are open; read
		// until it says how many posts went out, then answer.
		n, err := o.Child.wait()
		if err != nil {
			return res, err
		}
		waitComplete(screens, n, o.Grace)
		for _, s := range screens {
			s.closing.Store(true)
		}
		close(done)
		wg.Wait()
		return res, o.Child.answer(tally(screens, readers, n, len(urls)))
	}
	res.RSSPeak = sum(pids, rss)
	res.RSSAfter = sum(pids, settle)
	fmt.Fprintf(out, "%d screens connected\n", o.Subscribers)

	tool := func() time.Duration {
		t := cpuTime(os.Getpid())
		for _, k := range kids {
			t += cpuTime(k.pid())
		}
		return t
	}
	cpu0, tool0 := sum(pids, cpuTime), tool()
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.Rate)
	tick := time.NewTicker(interval)
	client := &http.Client{Timeout: 10 * time.Second}
	bursting := make(chan Burst, 1)
	if o.Uploads > 0 {
		photo := Photo(o.UploadWidth, o.UploadHeight)
		post := o.PostURL
		if post == "" {
			post = o.URL
		}
		go func() {
			select {
			case <-time.After(o.Duration / 2):
			case <-ctx.Done():
				return
			}
			b := burst(ctx, post, o.Wall, o.Uploads, photo)
			b.Started, b.Pixels = o.Duration/2, fmt.Sprintf("%d×%d", o.UploadWidth, o.UploadHeight)
			bursting <- b
		}()
	}
	// Requests go out on the tick, not after the answer to the one
	// before: a slow answer would otherwise lower the rate. At most 64
	// are in flight, the first error ends the run.
	n := 0
	answers := newHistogram()
	var amu sync.Mutex
	var inflight sync.WaitGroup
	failed := make(chan error, 1)
	slots := make(chan struct{}, 64)
	for time.Since(start) < o.Duration && (n+1)*o.Batch <= len(sent.at) {
		select {
		case <-ctx.Done():
			inflight.Wait()
			return res, ctx.Err()
		case err := <-failed:
			tick.Stop()
			inflight.Wait()
			return res, err
		case <-tick.C:
		}
		slots <- struct{}{}
		inflight.Add(1)
		go func(n int) {
			defer func() { <-slots; inflight.Done() }()
			t0 := time.Now()
			if err := publish(client, o, run, n, sent); err != nil {
				select {
				case failed <- err:
				default:
				}
				return
			}
			amu.Lock()
			answers.add(time.Since(t0))
			amu.Unlock()
		}(n)
		n++
	}
	tick.Stop()
	res.Publishing = time.Since(start)
	inflight.Wait()
	select {
	case err := <-failed:
		return res, err
	default:
	}
	res.AnswerP50, _, res.AnswerP99, res.AnswerMax = answers.quantiles()
	n *= o.Batch // posts, from requests
	res.Published = n
	for _, k := range kids {
		k.done(n)
	}
	// Wait until every screen has every post, or the grace time is over.
	waitComplete(screens, n, o.Grace)
	if o.Uploads > 0 {
		b := <-bursting
		res.Burst = &b
	}
	res.Elapsed = time.Since(start)
	res.CPU = sum(pids, cpuTime) - cpu0
	res.ToolCPU = tool() - tool0
	for _, s := range screens {
		s.closing.Store(true)
	}
	close(done)
	wg.Wait()
	t := tally(screens, readers, n, len(urls))
	for _, k := range kids {
		kt, err := k.result()
		if err != nil {
			return res, err
		}
		t.add(kt)
	}
	res.Deliveries, res.Lost, res.Dropped, res.Repeated, res.Moved = t.Deliveries, t.Lost, t.Dropped, t.Repeated, t.Moved
	all := newHistogram()
	for _, h := range t.Hist {
		all.merge(h)
	}
	res.P50, res.P90, res.P99, res.Max = all.quantiles()
	if len(urls) > 1 {
		for i, v := range urls {
			l := Latency{URL: v}
			l.P50, l.P90, l.P99, l.Max = t.Hist[i].quantiles()
			res.PerURL = append(res.PerURL, l)
		}
	}
	report(out, o, res)
	return res, nil
}

// waitComplete waits until every screen has n posts, or grace is over.
func waitComplete(screens []*screen, n int, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && !complete(screens, n) {
		time.Sleep(50 * time.Millisecond)
	}
}

func complete(screens []*screen, n int) bool {
	for _, s := range screens {
		if s.count() < n {
			return false
		}
	}
	return true
}

// AutoSources picks the local addresses screens connect from when none are
// given: enough loopback addresses (127.0.0.1, 127.0.0.2, …) for n screens
// at per screens each when the server is on IPv4 loopback, otherwise the
// system's choice, which holds one address's ephemeral ports.
func AutoSources(host string, n, per int) ([]string, error) {
	k := max((n+per-1)/per, 1)
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		if k > 1 {
			return nil, fmt.Errorf("bench: %d screens need %d source addresses of this machine at %d each: give them with -sources", n, k, per)
		}
		return []string{""}, nil
	}
	if k > 254*254 {
		return nil, fmt.Errorf("bench: %d screens at %d per address need more loopback addresses than 127.0.0.0/8 has", n, per)
	}
	addrs := make([]string, k)
	for i := range addrs {
		addrs[i] = net.IPv4(127, 0, byte(i/254), byte(i%254+1)).String()
	}
	return addrs, nil
}

// dial opens one screen from a source address and sends the request.
func dial(ctx context.Context, host, src, wall string, posts int) (*screen, error) {
	sk, err := open(ctx, host, src, wall, "")
	if err != nil {
		return nil, err
	}
	return &screen{sock: sk, got: make([]uint64, posts/64+1)}, nil
}

// open connects a screen's stream (from the Last-Event-ID lastID, if any).
func open(ctx context.Context, host, src, wall, lastID string) (sock, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return sock{}, err
	}
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	resume := ""
	if lastID != "" {
		resume = "Last-Event-ID: " + lastID + "\r\n"
	}
	if _, err := fmt.Fprintf(c, "GET /walls/%s/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nUser-Agent: wallcast-bench\r\n%s\r\n", url.PathEscape(wall), host, resume); err != nil {
		c.Close()
		return sock{}, err
	}
	return detach(c)
}

func (s *screen) count() int { return int(s.n.Load()) }

// reader reads a share of the screens: on Linux with an epoll instance
// of its own (read_linux.go), elsewhere with a goroutine per screen.
type reader struct {
	readerSys
	screens []atomic.Pointer[screen] // by id
	prefix  []byte
	ready   chan<- error
	hist    []*histogram // latencies, by server
	// reconnect, when set, is how a screen whose stream the server closed
	// comes back: as a browser's EventSource, to the next server, with
	// its Last-Event-ID.
	reconnect func(s *screen)
}

func newReader(run string, ready chan<- error, n, servers int) (*reader, error) {
	r := &reader{screens: make([]atomic.Pointer[screen], n), prefix: []byte(`"id":"bench:bench-` + run + "-"), ready: ready}
	for range servers {
		r.hist = append(r.hist, newHistogram())
	}
	return r, r.init()
}

// consume splits what arrived on a screen into lines.
// consume reads what arrived on a screen's socket. It reports whether
// the response ended: the last chunk of a chunked one, which is how a
// proxy in front (nginx) says the server closed the stream, and which
// EventSource takes as a reason to reconnect as it does a closed socket.
func (r *reader) consume(s *screen, data []byte, at time.Time) (ended bool) {
	if !s.body {
		if len(s.partial) > 0 {
			data = append(s.partial, data...)
			s.partial = nil
		}
		for !s.body {
			k := bytes.IndexByte(data, '\n')
			if k < 0 {
				s.partial = append([]byte(nil), data...)
				return false
			}
			line := data[:k]
			data = data[k+1:]
			h := bytes.ToLower(bytes.TrimRight(line, "\r"))
			switch {
			case len(h) == 0:
				s.body = true
			case bytes.HasPrefix(h, []byte("transfer-encoding:")) && bytes.Contains(h, []byte("chunked")):
				s.chunk = &dechunk{}
			}
			r.line(s, line, at)
		}
	}
	if s.chunk != nil {
		data, ended = s.chunk.decode(data, nil)
	}
	if len(s.partial) > 0 {
		data = append(s.partial, data...)
		s.partial = nil
	}
	for len(data) > 0 {
		k := bytes.IndexByte(data, '\n')
		if k < 0 {
			s.partial = append([]byte(nil), data...)
			break
		}
		r.line(s, data[:k], at)
		data = data[k+1:]
	}
	return ended
}

// dechunk takes the framing off a chunked response body.
type dechunk struct {
	left int    // bytes of the current chunk's data still to come
	crlf int    // bytes of the CRLF after a chunk's data still to skip
	size []byte // an unfinished chunk-size line
}

// decode appends to out the data in, without its framing; end says the
// last chunk came (or the framing broke: the stream is over either way).
func (d *dechunk) decode(in, out []byte) (_ []byte, end bool) {
	for len(in) > 0 {
		switch {
		case d.left > 0:
			n := min(d.left, len(in))
			out = append(out, in[:n]...)
			in, d.left = in[n:], d.left-n
			if d.left == 0 {
				d.crlf = 2
			}
		case d.crlf > 0:
			in, d.crlf = in[1:], d.crlf-1
		default:
			k := bytes.IndexByte(in, '\n')
			if k < 0 {
				d.size = append(d.size, in...)
				return out, false
			}
			line := append(d.size, in[:k]...)
			d.size, in = nil, in[k+1:]
			hex, _, _ := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(";"))
			n, err := strconv.ParseInt(string(bytes.TrimSpace(hex)), 16, 64)
			if err != nil || n <= 0 {
				return out, true
			}
			d.left = int(n)
		}
	}
	return out, false
}

func (r *reader) closed(s *screen) {
	r.forget(s)
	if !s.ready {
		s.ready = true
		r.ready <- errors.New("bench: a stream closed before it started")
	}
	if s.closing.Load() {
		return
	}
	if r.reconnect != nil {
		s.close()
		s.moves.Add(1)
		go r.reconnect(s)
		return
	}
	s.dropped.Store(true)
}

func (r *reader) line(s *screen, line []byte, at time.Time) {
	if !s.ready {
		if bytes.HasPrefix(line, []byte("HTTP/")) && !bytes.Contains(line, []byte(" 200 ")) {
			s.ready = true
			r.ready <- fmt.Errorf("bench: the server answered %q", bytes.TrimSpace(line))
			return
		}
		if bytes.HasPrefix(line, []byte("retry:")) {
			s.ready = true
			r.ready <- nil
		}
		return
	}
	if r.reconnect != nil {
		// As EventSource: an event's id counts once the event is whole
		// (its blank line), not when its id line arrives: a stream cut
		// inside an event resumes before it.
		switch {
		case bytes.HasPrefix(line, []byte("id: ")):
			s.nextID = append(s.nextID[:0], line[4:]...)
		case len(line) == 0 || (len(line) == 1 && line[0] == '\r'):
			if len(s.nextID) > 0 {
				s.lastID, s.nextID = append(s.lastID[:0], s.nextID...), s.nextID[:0]
			}
		}
	}
	i := bytes.Index(line, r.prefix)
	if i < 0 {
		return
	}
	// The id is bench-RUN-N-SENT: the post's number and when it was
	// sent (unix ns), so any process reading it knows the latency.
	num := line[i+len(r.prefix):]
	k := bytes.IndexByte(num, '"')
	if k < 0 {
		return
	}
	seq, at0, ok := bytes.Cut(num[:k], []byte("-"))
	n, err := strconv.Atoi(string(seq))
	if err != nil || !ok || n < 0 || n/64 >= len(s.got) {
		return
	}
	sent, err := strconv.ParseInt(string(at0), 10, 64)
	if err != nil {
		return
	}
	if s.got[n/64]&(1<<(n%64)) != 0 {
		s.repeats.Add(1) // the same post twice on one screen
		return
	}
	s.got[n/64] |= 1 << (n % 64)
	s.n.Add(1)
	r.hist[s.url].add(at.Sub(time.Unix(0, sent)))
}

// sendTimes holds when each post was sent, read by every screen without
// a lock (unix nanoseconds; 0: not sent).
type sendTimes struct{ at []atomic.Int64 }

func newSendTimes(n int) *sendTimes { return &sendTimes{at: make([]atomic.Int64, n)} }

func (s *sendTimes) set(n int, t time.Time) {
	if n < len(s.at) {
		s.at[n].Store(t.UnixNano())
	}
}

func (s *sendTimes) get(n int) (time.Time, bool) {
	if n < 0 || n >= len(s.at) {
		return time.Time{}, false
	}
	v := s.at[n].Load()
	return time.Unix(0, v), v != 0
}

// publish sends request n through the webhook, signed: one post, or Batch
// posts in a JSON array (numbered n*Batch on).
func publish(c *http.Client, o Options, run string, n int, sent *sendTimes) error {
	now := time.Now()
	batch := max(o.Batch, 1)
	items := make([]string, batch)
	for k := range items {
		id := n*batch + k
		items[k] = fmt.Sprintf(`{"id":"bench-%s-%d-%d","author":{"name":"Wallcast bench"},"text":"Load test post %d #bench","network":"web"}`, run, id, now.UnixNano(), id)
		sent.set(id, now)
	}
	body := items[0]
	if batch > 1 {
		body = "[" + strings.Join(items, ",") + "]"
	}
	// A node that is restarting answers nothing or 503: the same request
	// again (the same ids: a post committed before the answer was lost is
	// a repeat, stored once) until it is taken, for a minute at most.
	deadline := time.Now().Add(time.Minute)
	for {
		err := send(c, o, body)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func send(c *http.Client, o Options, body string) error {
	req, _ := http.NewRequest(http.MethodPost, strings.TrimRight(o.PostURL, "/")+"/hooks/"+url.PathEscape(o.Hook), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("X-Wallcast-Signature", webhook.Sign(o.Secret, ts, []byte(body)))
	req.Header.Set("X-Wallcast-Timestamp", ts)
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
		if len(o.PIDs) > 0 {
			fmt.Fprintf(out, "servers          %d processes, memory and CPU summed\n", 1+len(o.PIDs))
		}
		fmt.Fprintf(out, "server RSS       %.1f MiB before, %.1f MiB with the screens (settled; %.1f MiB at the peak of connecting): %.2f KiB per screen\n",
			float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), float64(r.RSSPeak)/(1<<20), float64(r.RSSAfter-r.RSSBefore)/1024/float64(max(r.Subscribers, 1)))
		if r.Deliveries > 0 {
			fmt.Fprintf(out, "server CPU       %.2f s over the run: %.2f µs per delivery\n", r.CPU.Seconds(), float64(r.CPU.Microseconds())/float64(r.Deliveries))
			fmt.Fprintf(out, "tool CPU         %.2f s over the run (taken from the server when both share a machine)\n", r.ToolCPU.Seconds())
		}
	}
	fmt.Fprintf(out, "published        %d posts in %s: %.1f/s (asked %.1f/s)\n", r.Published, r.Publishing.Round(time.Millisecond),
		float64(r.Published)/max(r.Publishing.Seconds(), 1e-9), o.Rate*float64(max(o.Batch, 1)))
	fmt.Fprintf(out, "webhook answers  p50 %s  p99 %s  max %s  (request sent → 200, posts committed)\n", round(r.AnswerP50), round(r.AnswerP99), round(r.AnswerMax))
	fmt.Fprintf(out, "deliveries       %d (%.0f/s)\n", r.Deliveries, float64(r.Deliveries)/r.Elapsed.Seconds())
	fmt.Fprintf(out, "latency          p50 %s  p90 %s  p99 %s  max %s  (publish request sent → event read by the screen)\n",
		round(r.P50), round(r.P90), round(r.P99), round(r.Max))
	for _, l := range r.PerURL {
		fmt.Fprintf(out, "  screens of %s: p50 %s  p90 %s  p99 %s  max %s\n", l.URL, round(l.P50), round(l.P90), round(l.P99), round(l.Max))
	}
	fmt.Fprintf(out, "lost             %d\n", r.Lost)
	fmt.Fprintf(out, "repeated         %d\n", r.Repeated)
	if o.Reconnect {
		fmt.Fprintf(out, "moved            %d streams closed by a server came back on another\n", r.Moved)
	}
	if b := r.Burst; b != nil {
		fmt.Fprintf(out, "uploads          %d at once after %s, photos of %s (%d KiB): %d taken in %s; p50 %s  p99 %s  max %s; answers %v\n",
			b.Sent, b.Started, b.Pixels, b.Bytes>>10, b.Taken, round(b.Elapsed), round(b.P50), round(b.P99), round(b.Max), b.Answers)
	}
}

// sum adds a measure over processes (those with pid 0 are not measured).
func sum[T int64 | time.Duration](pids []int, f func(int) T) T {
	var t T
	for _, p := range pids {
		t += f(p)
	}
	return t
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

// settle waits until a process's RSS stops falling (at most 30 s) and
// returns it.
func settle(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	time.Sleep(4 * time.Second) // the server hands memory back a few seconds after a storm
	prev := rss(pid)
	stable := 0
	for i := 0; i < 30 && stable < 3; i++ {
		time.Sleep(time.Second)
		cur := rss(pid)
		if cur >= prev-prev/200 {
			stable++
		} else {
			stable = 0
		}
		prev = cur
	}
	return prev
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
