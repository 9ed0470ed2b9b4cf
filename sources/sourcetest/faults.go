package sourcetest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/internal/faultnet"
	"github.com/wallcast/wallcast/sources/supervisor"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Feed is the numbered posts (from 1) a fake upstream publishes over time.
type Feed struct {
	mu    sync.Mutex
	times []time.Time
	added chan struct{} // closed and replaced at each Publish
	// For live networks: the connections each post was written to, and
	// the connections the fake saw die.
	sentOn map[int][]any
	dead   map[any]bool
}

// NewFeed returns an empty feed.
func NewFeed() *Feed { return &Feed{added: make(chan struct{})} }

// Publish adds the next post and returns its number.
func (f *Feed) Publish() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Strictly growing times, so a time cursor tells every post apart.
	t := time.Now()
	if n := len(f.times); n > 0 && !t.After(f.times[n-1]) {
		t = f.times[n-1].Add(time.Microsecond)
	}
	f.times = append(f.times, t)
	close(f.added)
	f.added = make(chan struct{})
	return len(f.times)
}

// Len is how many posts are published.
func (f *Feed) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.times)
}

// Time is when post i was published.
func (f *Feed) Time(i int) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.times[i-1]
}

// Wait blocks until the feed has more than n posts (true) or ctx ends.
func (f *Feed) Wait(ctx context.Context, n int) bool {
	for {
		f.mu.Lock()
		l, ch := len(f.times), f.added
		f.mu.Unlock()
		if l > n {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// Beyond returns a channel closed once the feed has more than n posts, for
// a fake's select loop.
func (f *Feed) Beyond(n int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.times) > n {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return f.added
}

// Sent records, for the fake of a live network (a chat with no history),
// that post i was written to connection conn.
func (f *Feed) Sent(conn any, i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sentOn == nil {
		f.sentOn = map[int][]any{}
	}
	f.sentOn[i] = append(f.sentOn[i], conn)
}

// Dropped records that the fake saw conn fail: what was written to it
// alone may be lost, as it is on the real network.
func (f *Feed) Dropped(conn any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead == nil {
		f.dead = map[any]bool{}
	}
	f.dead[conn] = true
}

// owed reports whether post i went out on a connection still up: a live
// network's adapter must then have it.
func (f *Feed) owed(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.sentOn[i] {
		if !f.dead[c] {
			return true
		}
	}
	return false
}

// FaultText is the text of post i: a marker the proxy finds, and a letter
// of two bytes for it to cut in half.
func FaultText(i int) string { return fmt.Sprintf("wallcast-fault-%d café", i) }

var faultNumber = regexp.MustCompile(`wallcast-fault-(\d+) `)

// Network is one adapter under the fault matrix.
type Network struct {
	// Upstream serves the network's wire format for the feed's posts.
	Upstream func(f *Feed) http.Handler
	// Open builds the adapter for the upstream at base (scheme://host),
	// dialling through client.
	Open func(base string, client *http.Client) wall.Source
	Sub  wall.Subscription
	// Stall is the stall timeout the adapter runs with.
	Stall time.Duration
	// Skip names faults that do not apply, with the reason.
	Skip map[string]string
	// Live marks a network with no history (a chat): what was said while
	// the adapter was away cannot be fetched again. Its fake records with
	// Feed.Sent and Feed.Dropped what went out on which connection; the
	// matrix then asks for every post written to a connection that stayed
	// up, none twice, posts to go on arriving after the fault, and the
	// source's health to say it was away (AwayNote, a part of its note)
	// whenever a post was lost after it had first joined.
	Live     bool
	AwayNote string
	// StrikeAnyConn makes a fault strike the first connection that carries
	// its bytes, not only the first connection: for an adapter whose posts
	// come on a second connection (a WebSocket opened after a REST fill).
	StrikeAnyConn bool
}

// Fault is one row of the matrix.
type Fault struct {
	Name  string
	Proxy faultnet.Fault
	TLS   bool // the upstream speaks TLS
	DNS   int  // how many lookups fail first
}

// Faults is the matrix every adapter is run through. A fault that strikes
// one connection hits the first; the network then heals.
var Faults = []Fault{
	{Name: "latency 150 ms", Proxy: faultnet.Fault{Latency: 150 * time.Millisecond}},
	{Name: "bandwidth 4 kB/s", Proxy: faultnet.Fault{Bandwidth: 4000}},
	{Name: "reset", Proxy: faultnet.Fault{At: faultnet.After("wallcast-fault-", 2, 0), Then: faultnet.Reset, Conns: 1}},
	{Name: "half-open", Proxy: faultnet.Fault{At: faultnet.After("wallcast-fault-", 2, 0), Then: faultnet.Freeze, Conns: 1}},
	{Name: "cut mid-event", Proxy: faultnet.Fault{At: faultnet.After("wallcast-fault-", 2, 8), Then: faultnet.Cut, Conns: 1}},
	{Name: "cut mid-chunk", Proxy: faultnet.Fault{At: faultnet.InChunkSize(3), Then: faultnet.Cut, Conns: 1}},
	{Name: "cut mid-UTF-8", Proxy: faultnet.Fault{At: faultnet.After("caf\xc3", 2, 4), Then: faultnet.Cut, Conns: 1}},
	{Name: "DNS failure", DNS: 3},
	{Name: "TLS handshake never ends", TLS: true, Proxy: faultnet.Fault{Silent: true, Conns: 1}},
}

// Outcome is one cell of the matrix.
type Outcome struct {
	Struck     bool          // the fault happened (a cut needs its bytes)
	Missed     []int         // posts never emitted
	Lost       []int         // of a live network: missed, and never written to a connection that stayed up
	Note       string        // the source's health note at the end
	Back       bool          // a live network's posts went on arriving after the fault
	Away       bool          // a live network lost posts after it had joined (not only before)
	Duplicates int           // emits of a post beyond its first
	Took       time.Duration // until the last post arrived
}

// Posts is how many posts each fault run publishes.
const Posts = 10

// RunFaults runs the adapter through every fault of the matrix and checks
// that it recovers by itself, misses no post and repeats none. It logs
// one line per fault for the README's table.
func RunFaults(t *testing.T, n Network) {
	for _, f := range Faults {
		t.Run(f.Name, func(t *testing.T) {
			if why, ok := n.Skip[f.Name]; ok {
				t.Skip(why)
			}
			t.Parallel()
			o := runFault(t, n, f)
			t.Logf("fault matrix: %s: struck=%v missed=%d duplicates=%d took=%v", t.Name(), o.Struck, len(o.Missed)-len(o.Lost), o.Duplicates, o.Took.Round(10*time.Millisecond))
			if len(o.Lost) > 0 {
				t.Logf("fault matrix: %s: live, lost while away: %v; health: %q", t.Name(), o.Lost, o.Note)
				if o.Away && !strings.Contains(o.Note, n.AwayNote) {
					t.Errorf("posts were lost but the health note %q does not say so (%q)", o.Note, n.AwayNote)
				}
			}
			if !o.Back {
				t.Errorf("the newest post never arrived: the adapter did not come back")
			}
			if len(o.Missed) > len(o.Lost) {
				t.Errorf("posts never emitted: %v (of which lost while away: %v)", o.Missed, o.Lost)
			}
			if o.Duplicates > 0 {
				t.Errorf("%d posts emitted more than once", o.Duplicates)
			}
			if !o.Struck && f.Proxy.At != nil && f.Name != "cut mid-chunk" {
				t.Errorf("the fault never struck: the test proves nothing")
			}
		})
	}
}

// Faulty serves h (over TLS when f.TLS) behind a proxy with f's fault,
// and returns the base URL to reach it ("http(s)://upstream.example") and
// a client with the production client's settings that dials through the
// proxy (lookups fail f.DNS times first; a TLS handshake gets 500 ms).
// All of it closes when the test ends.
func Faulty(t testing.TB, h http.Handler, f Fault) (base string, client *http.Client, proxy *faultnet.Proxy) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if f.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	proxy, err := faultnet.Listen(srv.Listener.Addr().String(), f.Proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	tr := upstream.NewClient().Transport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = faultnet.FailingDNS(proxy.Addr(), f.DNS)
	tr.TLSHandshakeTimeout = 500 * time.Millisecond
	base = "http://upstream.example"
	if f.TLS {
		base = "https://upstream.example"
		tr.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}
	}
	return base, &http.Client{Transport: tr}, proxy
}

func runFault(t *testing.T, n Network, f Fault) Outcome {
	if n.StrikeAnyConn && f.Proxy.At != nil {
		f.Proxy.Conns, f.Proxy.Once = 0, true
	}
	feed := NewFeed()
	base, client, proxy := Faulty(t, n.Upstream(feed), f)
	src := n.Open(base, client)

	var mu sync.Mutex
	seen := map[int]int{}
	var first, newest int // the first and the newest post that arrived
	got := make(chan struct{}, 1)
	emit := func(ctx context.Context, it wall.Item) error {
		if it.Kind != wall.ItemPost {
			return nil
		}
		m := faultNumber.FindStringSubmatch(it.Post.Text + " " + it.Post.HTML)
		if m == nil {
			return nil
		}
		i, _ := strconv.Atoi(m[1])
		mu.Lock()
		seen[i]++
		newest = max(newest, i)
		if first == 0 {
			first = i
		}
		mu.Unlock()
		select {
		case got <- struct{}{}:
		default:
		}
		return nil
	}
	sup := supervisor.New(nil, Quiet)
	sup.BaseDelay, sup.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); sup.Wait() }()
	start := time.Now()
	sup.Start(ctx, supervisor.Spec{Name: "faulty", Type: "test", Source: src, Sub: n.Sub, Emit: emit, Stall: n.Stall})
	// A live network goes on publishing after Posts until the newest post
	// arrives: the adapter is back.
	published := make(chan int, 1)
	go func() {
		defer close(published)
		for i := 1; ; i++ {
			if i > Posts {
				if !n.Live {
					return
				}
				mu.Lock()
				back := newest >= Posts
				mu.Unlock()
				if back || i > 20*Posts {
					return
				}
			}
			if upstream.Sleep(ctx, 60*time.Millisecond) != nil {
				return
			}
			feed.Publish()
		}
	}()

	complete := func() bool {
		select {
		case <-published:
		default:
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		for i := 1; i <= feed.Len(); i++ {
			if seen[i] == 0 && (!n.Live || feed.owed(i)) {
				return false
			}
		}
		return true
	}
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var took time.Duration
wait:
	for !complete() {
		select {
		case <-got:
		case <-tick.C:
		case <-deadline:
			break wait
		}
	}
	took = time.Since(start)
	// Give a repeat the time to show.
	upstream.Sleep(ctx, 300*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	o := Outcome{Struck: proxy.Struck() > 0 || f.DNS > 0, Took: took}
	for i := 1; i <= feed.Len(); i++ {
		if seen[i] == 0 {
			o.Missed = append(o.Missed, i)
			if n.Live && !feed.owed(i) {
				o.Lost = append(o.Lost, i)
				o.Away = o.Away || i > first // lost after the source had joined
			}
		}
		o.Duplicates += max(seen[i]-1, 0)
	}
	o.Back = !n.Live || newest >= Posts
	if h := sup.Health(); len(h) > 0 {
		o.Note = h[0].Note
	}
	return o
}

// TagLine is a helper for fakes: the text of post i with the wall's tag.
func TagLine(i int, tag string) string {
	return strings.TrimSpace(FaultText(i) + " #" + tag)
}
