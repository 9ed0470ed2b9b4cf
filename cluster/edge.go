package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/wall"
)

// Edge serves screens from the stream. It keeps each wall's newest events
// (up to the stream's window) and its snapshot from the bucket, answers
// the web server as its wall.Reader, and hands each event to the hub as
// it arrives. It has no database: what it holds, the stream and the
// bucket hold too, so an edge can start, stop or die at any moment.
type Edge struct {
	node    *Node
	hub     *fanout.Hub
	onWalls func([]config.Wall)

	mu     sync.RWMutex
	walls  map[string]*mirror
	served map[string]bool // the walls of the bucket's walls key: nothing else is kept

	ready   atomic.Bool   // caught up with the stream as it was at the start
	applied atomic.Uint64 // the last stream sequence taken
	done    chan struct{}
	news    chan struct{} // closed and replaced when a snapshot or an event arrives (under mu)
	// aheadWait is how long a screen resuming from an event this edge has
	// not had yet waits for it (it comes from an edge a moment further
	// along the stream) before it is reset.
	aheadWait time.Duration
}

// mirror is an edge's copy of one wall.
type mirror struct {
	events []held // oldest first, at most the window
	snap   snapshot
}

// held is an event and the id of its wall's display event before it.
type held struct {
	wall.Event
	prev int64
}

// NewEdge returns an edge that hands events to hub; onWalls is called
// with the ingest node's walls when they are known and when they change.
func NewEdge(node *Node, hub *fanout.Hub, onWalls func([]config.Wall)) *Edge {
	return &Edge{node: node, hub: hub, onWalls: onWalls, walls: map[string]*mirror{}, served: map[string]bool{}, done: make(chan struct{}), news: make(chan struct{}), aheadWait: 2 * time.Second}
}

// Run follows the stream and the bucket until ctx ends. The ordered
// consumer resumes by itself after NATS comes back, from the sequence
// after the last one taken.
func (e *Edge) Run(ctx context.Context) {
	defer close(e.done)
	e.node.retry(ctx, e.session, func(err error, wait time.Duration) {
		e.node.log.Warn("cluster: edge cannot follow the stream", "err", err, "retry_in", wait)
	})
}

// Wait returns when Run has returned.
func (e *Edge) Wait() { <-e.done }

func (e *Edge) session(ctx context.Context) error {
	st, err := e.node.js.Stream(ctx, e.node.cfg.Stream)
	if err != nil {
		return fmt.Errorf("stream %s (is the ingest node up?): %w", e.node.cfg.Stream, err)
	}
	kv, err := e.node.js.KeyValue(ctx, e.node.bucket())
	if err != nil {
		return fmt.Errorf("bucket %s: %w", e.node.bucket(), err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	w, err := kv.WatchAll(wctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", e.node.bucket(), err)
	}
	defer w.Stop()
	// The snapshots first: a screen served before them would get an
	// empty wall. The walls before the snapshots: an edge keeps nothing
	// of a wall it does not serve.
	var initial []jetstream.KeyValueEntry
	for entry := range w.Updates() {
		if entry == nil {
			break
		}
		initial = append(initial, entry)
	}
	slices.SortStableFunc(initial, func(a, b jetstream.KeyValueEntry) int {
		return b2i(b.Key() == keyWalls) - b2i(a.Key() == keyWalls)
	})
	for _, entry := range initial {
		e.take(entry)
	}
	go func() {
		for entry := range w.Updates() {
			if entry != nil {
				e.take(entry)
			}
		}
	}()
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	target := info.State.LastSeq
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if a := e.applied.Load(); a > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: a + 1}
	}
	cons, err := e.node.js.OrderedConsumer(ctx, e.node.cfg.Stream, cfg)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	failed := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) { e.event(m, target) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrStreamNotFound) {
				select {
				case failed <- err:
				default:
				}
			}
		}))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer cc.Stop()
	if e.applied.Load() >= target {
		e.caughtUp()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-failed:
		return err
	}
}

func (e *Edge) caughtUp() {
	if !e.ready.Swap(true) {
		e.node.log.Info("cluster: edge caught up with the stream", "sequence", e.applied.Load())
	}
}

// take applies an entry of the bucket: the walls, or a wall's snapshot.
func (e *Edge) take(entry jetstream.KeyValueEntry) {
	if entry.Operation() != jetstream.KeyValuePut {
		return
	}
	switch key := entry.Key(); {
	case key == keyWalls:
		var walls []config.Wall
		if err := json.Unmarshal(entry.Value(), &walls); err != nil {
			e.node.log.Warn("cluster: walls in the bucket are not JSON", "err", err)
			return
		}
		e.serve(walls)
		if e.onWalls != nil {
			e.onWalls(walls)
		}
	case len(key) > len(keySnap) && key[:len(keySnap)] == keySnap:
		var s snapshot
		if err := json.Unmarshal(entry.Value(), &s); err != nil {
			e.node.log.Warn("cluster: a snapshot in the bucket is not JSON", "key", key, "err", err)
			return
		}
		m := e.mirror(key[len(keySnap):])
		if m == nil {
			return
		}
		e.mu.Lock()
		if s.Head >= m.snap.Head {
			m.snap = s
		}
		close(e.news)
		e.news = make(chan struct{})
		e.mu.Unlock()
	}
}

// serve makes walls the ones the edge keeps: the copies of others go.
func (e *Edge) serve(walls []config.Wall) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.served = map[string]bool{}
	for _, w := range walls {
		e.served[w.Slug] = true
	}
	for slug := range e.walls {
		if !e.served[slug] {
			delete(e.walls, slug)
		}
	}
}

// mirror is the copy of a wall the edge serves (nil for any other).
func (e *Edge) mirror(slug string) *mirror {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.served[slug] {
		return nil
	}
	m := e.walls[slug]
	if m == nil {
		m = &mirror{}
		e.walls[slug] = m
	}
	return m
}

// event takes one message of the stream: into the wall's copy, then to
// its screens.
func (e *Edge) event(msg jetstream.Msg, target uint64) {
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	defer func() {
		e.applied.Store(meta.Sequence.Stream)
		if meta.Sequence.Stream >= target {
			e.caughtUp()
		}
	}()
	slug := e.node.wallOf(msg.Subject())
	h := msg.Headers()
	seq, err1 := strconv.ParseInt(h.Get(hdrSeq), 10, 64)
	prev, err2 := strconv.ParseInt(h.Get(hdrPrev), 10, 64)
	typ := wall.EventType(h.Get(hdrType))
	if slug == "" || err1 != nil || err2 != nil || typ == "" || !wall.ForDisplay(typ) {
		e.node.log.Warn("cluster: a message that is not a wall event; skipped", "subject", msg.Subject(), "stream_seq", meta.Sequence.Stream)
		return
	}
	ev := wall.Event{Seq: seq, Wall: slug, Type: typ, Data: msg.Data()}
	m := e.mirror(slug)
	if m == nil {
		return // a wall this edge does not serve
	}
	e.mu.Lock()
	if n := len(m.events); n > 0 && m.events[n-1].Seq >= seq {
		e.mu.Unlock()
		return // already here
	}
	m.events = append(m.events, held{ev, prev})
	if w := e.node.cfg.Window; len(m.events) > 2*w {
		m.events = slices.Clone(m.events[len(m.events)-w:])
	}
	if typ == wall.EventRemove {
		m.drop(ev.Data)
	}
	close(e.news)
	e.news = make(chan struct{})
	e.mu.Unlock()
	e.hub.Publish([]wall.Event{ev})
}

// drop forgets what a wall's copy holds of a post taken off the wall (a
// remove, a forget among them): its post, update and pin events, the
// feature of show events, the snapshot's copy. A screen resuming from
// before them gets the remove alone (or a reset). Under mu.
func (m *mirror) drop(removeData []byte) {
	var r struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(removeData, &r) != nil || r.ID == "" {
		return
	}
	// Only events whose bytes name the post are decoded: a remove costs a
	// scan of the window, not a decoding of every event in it.
	quoted, _ := json.Marshal(r.ID)
	names := func(h held) bool { return bytes.Contains(h.Data, quoted) }
	carries := func(h held) bool {
		if !names(h) {
			return false
		}
		switch h.Type {
		case wall.EventPost, wall.EventUpdate, wall.EventPin:
			var p struct {
				ID string `json:"id"`
			}
			return json.Unmarshal(h.Data, &p) == nil && p.ID == r.ID
		}
		return false
	}
	m.events = slices.DeleteFunc(m.events, carries)
	for i, h := range m.events {
		if h.Type != wall.EventShow || !names(h) {
			continue
		}
		var st wall.Show
		if json.Unmarshal(h.Data, &st) == nil && st.Feature != nil && st.Feature.ID == r.ID {
			st.Feature, st.Until = nil, time.Time{}
			m.events[i].Data, _ = json.Marshal(st)
		}
	}
	m.snap.Posts = slices.DeleteFunc(slices.Clone(m.snap.Posts), func(p wall.Post) bool { return p.ID == r.ID })
	if s := m.snap.Show; s != nil && s.Feature != nil && s.Feature.ID == r.ID {
		cleared := *s
		cleared.Feature, cleared.Until = nil, time.Time{}
		m.snap.Show = &cleared
	}
}

// window is the part of a wall's copy that counts: the stream's window.
func (e *Edge) window(m *mirror) []held {
	if w := e.node.cfg.Window; len(m.events) > w {
		return m.events[len(m.events)-w:]
	}
	return m.events
}

// Snapshot is the wall's snapshot from the bucket, with the events the
// edge has after it: a screen applies them as it would live ones. When
// the wall's events since the snapshot have already left the window (the
// ingest node writes a newer snapshot within a moment), it waits for the
// newer one.
func (e *Edge) Snapshot(ctx context.Context, slug string, n int) (wall.Snapshot, error) {
	timeout := time.After(5 * time.Second)
	for {
		e.mu.RLock()
		snap, whole := e.snapshot(slug, n)
		news := e.news
		e.mu.RUnlock()
		if whole {
			return snap, nil
		}
		select {
		case <-news:
		case <-ctx.Done():
			return snap, ctx.Err()
		case <-timeout:
			return snap, fmt.Errorf("the snapshot of %s is older than the stream's window", slug)
		}
	}
}

// snapshot reads a wall's snapshot with the events after it, and whether
// they join up (under mu).
func (e *Edge) snapshot(slug string, n int) (wall.Snapshot, bool) {
	m := e.walls[slug]
	if m == nil {
		return wall.Snapshot{}, true
	}
	snap := m.snap.Snapshot
	snap.Posts = newest(snap.Posts, n)
	snap.Events = nil
	evs := e.window(m)
	for _, h := range evs {
		if h.Seq > snap.Head {
			snap.Events = append(snap.Events, h.Event)
		}
	}
	if k := len(snap.Events); k > 0 {
		if first := evs[len(evs)-k]; first.prev > snap.Head {
			return snap, false
		}
		snap.Head = snap.Events[k-1].Seq
	}
	return snap, true
}

// newest keeps the pinned posts and the newest n others, in order.
func newest(posts []wall.Post, n int) []wall.Post {
	others := 0
	for _, p := range posts {
		if !p.Pinned {
			others++
		}
	}
	out := make([]wall.Post, 0, len(posts))
	for _, p := range posts {
		if !p.Pinned && others > n {
			others--
			continue
		}
		out = append(out, p)
	}
	return out
}

// Replay returns the wall's display events after seq. ok is false when the
// edge does not hold every event since seq (older than the stream's
// window) or seq is ahead of what it has. A screen that moved here from
// an edge a moment further along the stream is ahead by an event or two:
// it waits up to aheadWait for them rather than start again with a reset
// (a reset brings back only the newest max_posts, and the posts between
// would be lost to it).
func (e *Edge) Replay(ctx context.Context, slug string, after int64, limit int) ([]wall.Event, bool, error) {
	var waited <-chan time.Time
	for {
		e.mu.RLock()
		m := e.walls[slug]
		if m == nil {
			e.mu.RUnlock()
			return nil, after == 0, nil
		}
		evs := e.window(m)
		head := m.snap.Head
		if len(evs) > 0 {
			head = max(head, evs[len(evs)-1].Seq)
		}
		if after > head {
			news := e.news
			e.mu.RUnlock()
			if waited == nil {
				waited = time.After(e.aheadWait)
			}
			select {
			case <-news:
				continue
			case <-waited:
				return nil, false, nil
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		defer e.mu.RUnlock()
		switch {
		case after == head:
			return nil, true, nil
		case len(evs) == 0 || after < evs[0].prev:
			return nil, false, nil // a gap: events between seq and the oldest held
		}
		i, _ := slices.BinarySearchFunc(evs, after+1, func(h held, seq int64) int { return int(h.Seq - seq) })
		var out []wall.Event
		for _, h := range evs[i:] {
			if len(out) == limit {
				break
			}
			out = append(out, h.Event)
		}
		return out, true, nil
	}
}

// Posts pages through the visible posts the edge holds, newest first:
// the snapshot's with the events since applied. before is an offset.
func (e *Edge) Posts(ctx context.Context, slug string, before int64, limit int) ([]wall.Post, int64, error) {
	e.mu.RLock()
	m := e.walls[slug]
	var posts []wall.Post
	if m != nil {
		posts = slices.Clone(m.snap.Posts)
		for _, h := range e.window(m) {
			if h.Seq > m.snap.Head {
				posts = apply(posts, h.Event)
			}
		}
	}
	e.mu.RUnlock()
	slices.Reverse(posts)
	if before < 0 || before > int64(len(posts)) {
		before = int64(len(posts))
	}
	posts = posts[before:]
	if len(posts) <= limit {
		return posts, 0, nil
	}
	return posts[:limit], before + int64(limit), nil
}

// apply changes a list of visible posts (oldest first) by one event.
func apply(posts []wall.Post, ev wall.Event) []wall.Post {
	var p wall.Post
	if json.Unmarshal(ev.Data, &p) != nil || p.ID == "" {
		return posts
	}
	i := slices.IndexFunc(posts, func(q wall.Post) bool { return q.ID == p.ID })
	switch ev.Type {
	case wall.EventPost:
		if i >= 0 {
			posts = slices.Delete(posts, i, i+1)
		}
		return append(posts, p)
	case wall.EventUpdate, wall.EventPin:
		if i >= 0 {
			posts[i] = p
		}
	case wall.EventUnpin:
		if i >= 0 {
			posts[i].Pinned = false
		}
	case wall.EventRemove:
		if i >= 0 {
			posts = slices.Delete(posts, i, i+1)
		}
	}
	return posts
}

// Display is the console's display override, from the wall's snapshot.
func (e *Edge) Display(ctx context.Context, slug string) (string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if m := e.walls[slug]; m != nil {
		return m.snap.Display, nil
	}
	return "", nil
}

// Impression sends a sponsor showing to the ingest node.
func (e *Edge) Impression(ctx context.Context, slug, sponsor string, seconds int) error {
	return e.report(report{Kind: "impression", Wall: slug, Sponsor: sponsor, Seconds: seconds})
}

// Screens sends the most screens at once in a minute to the ingest node.
func (e *Edge) Screens(ctx context.Context, slug string, at time.Time, peak int) error {
	return e.report(report{Kind: "screens", Wall: slug, At: at, Peak: peak})
}

// report sends a screen report on core NATS: kept in the connection's
// buffer while NATS is away, and lost if the edge stops meanwhile.
func (e *Edge) report(r report) error {
	data, _ := json.Marshal(r)
	return e.node.nc.Publish(e.node.tallySubject(), data)
}

// Ready says why the edge should not take new screens: NATS away for
// longer than unhealthy_after, or the stream not caught up yet.
func (e *Edge) Ready() error {
	if down := e.node.Down(); !down.IsZero() && time.Since(down) >= e.node.cfg.UnhealthyAfter.D() {
		return fmt.Errorf("NATS unreachable since %s", down.UTC().Format(time.RFC3339))
	}
	if !e.ready.Load() {
		return errors.New("catching up with the stream")
	}
	return nil
}

// Collectors are the edge's metrics.
func (e *Edge) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_cluster_connected", Help: "1 when NATS is reachable."},
			func() float64 { return b2f(e.node.Down().IsZero()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_cluster_caught_up", Help: "1 once the edge has caught up with the stream."},
			func() float64 { return b2f(e.ready.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_cluster_stream_sequence", Help: "The last stream sequence the edge took."},
			func() float64 { return float64(e.applied.Load()) }),
	}
}

// Collectors are the outbox's metrics.
func (o *Outbox) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_cluster_connected", Help: "1 when NATS is reachable."},
			func() float64 { return b2f(o.node.Down().IsZero()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_outbox_pending", Help: "Committed events the stream has not acknowledged."},
			func() float64 { return float64(o.Pending()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_outbox_published_total", Help: "Events published to the stream since the start."},
			func() float64 { return float64(o.Sent()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_outbox_alarm", Help: "1 when the stream holds a message this ingest node did not write."},
			func() float64 { return b2f(o.Problem() != nil) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_cluster_reports_dropped_total", Help: "Screen reports from edges refused (unknown wall or sponsor, figures out of bounds)."},
			func() float64 { return float64(o.dropped.Load()) }),
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
