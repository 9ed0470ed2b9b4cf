package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// DB is what the outbox needs of the ingest node's database.
type DB interface {
	Outbox(ctx context.Context, after int64, limit int) ([]wall.Outgoing, int64, bool, error)
	Published(ctx context.Context, stream string) (int64, error)
	SetPublished(ctx context.Context, stream string, id int64) error
	Head(ctx context.Context) (int64, error)
	Snapshot(ctx context.Context, wall string, n int) (wall.Snapshot, error)
	Purges(ctx context.Context) ([]int64, error)
	Purged(ctx context.Context, events []int64) error
	wall.Tally
}

// batch is how many events the outbox sends before it waits for their
// acknowledgements.
const batch = 512

// Outbox publishes the ingest node's committed display events to the
// stream, in order: an event counts as published once JetStream
// acknowledged it. After a crash or while NATS is away it starts again
// from how far the stream got, so nothing is lost; each message carries
// its event id as Nats-Msg-Id, and each expects the stream's last
// sequence to be the one before it, so a repeat is not stored twice and
// a lost message stops the ones after it until it is sent again.
type Outbox struct {
	node    *Node
	db      DB
	walls   atomic.Pointer[[]config.Wall]
	wake    chan struct{}
	done    chan struct{}
	cursor  atomic.Int64 // published through this event id
	head    atomic.Int64 // the newest event id committed, as last read
	sent    atomic.Int64 // events published since the start
	alarm   atomic.Pointer[error]
	dropped atomic.Int64 // edges' reports refused

	mu        sync.Mutex
	dirty     map[string]bool // walls whose snapshot is behind
	wallsSent bool
}

// NewOutbox returns the outbox of the ingest node; Run runs it.
func NewOutbox(node *Node, db DB, walls []config.Wall) *Outbox {
	o := &Outbox{node: node, db: db, wake: make(chan struct{}, 1), done: make(chan struct{}), dirty: map[string]bool{}}
	o.SetWalls(walls)
	return o
}

// SetWalls changes the walls (a reload): edges learn them from the bucket,
// and every wall's snapshot is written again.
func (o *Outbox) SetWalls(walls []config.Wall) {
	o.walls.Store(&walls)
	o.mu.Lock()
	o.wallsSent = false
	for _, w := range walls {
		o.dirty[w.Slug] = true
	}
	o.mu.Unlock()
	o.Notify()
}

// Notify tells the outbox that events were committed.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Publish tells the outbox of committed events: it sits beside the hub as
// ingest's publisher.
func (o *Outbox) Publish([]wall.Event) { o.Notify() }

// Pending is how many event ids the stream has not acknowledged yet (the
// moderation queue's events among them, which are not published).
func (o *Outbox) Pending() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if head, err := o.db.Head(ctx); err == nil {
		o.head.Store(head)
	}
	return max(0, o.head.Load()-o.cursor.Load())
}

// Sent is how many events the outbox published since the start.
func (o *Outbox) Sent() int64 { return o.sent.Load() }

// Run publishes until ctx ends, starting a new session (with a backoff)
// whenever NATS fails; it also takes the edges' screen reports.
func (o *Outbox) Run(ctx context.Context) {
	defer close(o.done)
	sub, err := o.node.nc.Subscribe(o.node.tallySubject(), o.tally(ctx))
	if err != nil {
		o.node.log.Error("cluster: edges' reports not taken", "err", err)
	} else {
		defer sub.Unsubscribe()
	}
	o.node.retry(ctx, o.session, func(err error, wait time.Duration) {
		o.node.log.Warn("cluster: outbox paused; events wait in the database", "err", err, "pending", o.Pending(), "retry_in", wait)
	})
}

// Wait returns when Run has returned.
func (o *Outbox) Wait() { <-o.done }

// Drain waits until the stream has acknowledged every committed event,
// or ctx ends (a shutdown sends what the last commits added).
func (o *Outbox) Drain(ctx context.Context) error {
	for o.Pending() > 0 {
		o.Notify()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// session publishes from where the stream is until an error.
func (o *Outbox) session(ctx context.Context) error {
	st, kv, err := o.node.setUp(ctx)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	last := info.State.LastSeq
	cursor, err := o.db.Published(ctx, o.node.cfg.Stream)
	if err != nil {
		return err
	}
	// The stream may be ahead of the database's record: a crash after
	// the acknowledgement and before the record. Only an event this node
	// wrote, at or before its head, moves the record; anything else on
	// the stream is an alarm, never a cursor.
	if last > 0 {
		m, err := st.GetMsg(ctx, last)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			// Deleted (a forget took it): the database's record stands.
		case err != nil:
			return fmt.Errorf("stream's last message: %w", err)
		default:
			v, why := o.ours(ctx, m)
			if why != "" {
				o.raise(fmt.Errorf("the stream's last message (sequence %d) was not written by this ingest node: %s; edges may show what it says: purge the stream (nats stream purge %s) and restart the edges", last, why, o.node.cfg.Stream))
			} else if v > cursor {
				cursor = v
				if err := o.db.SetPublished(ctx, o.node.cfg.Stream, cursor); err != nil {
					return err
				}
			}
		}
	}
	o.cursor.Store(cursor)
	o.mu.Lock()
	o.wallsSent = false
	for _, w := range *o.walls.Load() {
		o.dirty[w.Slug] = true
	}
	o.mu.Unlock()
	var snapped time.Time
	for {
		events, through, more, err := o.db.Outbox(ctx, cursor, batch)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			if last, err = o.send(ctx, events, last); err != nil {
				return err
			}
			o.sent.Add(int64(len(events)))
			o.mu.Lock()
			for _, e := range events {
				o.dirty[e.Wall] = true
			}
			o.mu.Unlock()
		}
		if through > cursor {
			cursor = through
			if err := o.db.SetPublished(ctx, o.node.cfg.Stream, cursor); err != nil {
				return err
			}
			o.cursor.Store(cursor)
		}
		if more {
			continue
		}
		if err := o.purge(ctx, st); err != nil {
			return err
		}
		// Drained: the snapshots catch up (at most every snapshotEvery),
		// then the outbox waits for more.
		wait := time.Second
		if since := time.Since(snapped); since >= snapshotEvery {
			if err := o.snapshots(ctx, kv, last); err != nil {
				return err
			}
			snapped = time.Now()
		} else if o.behind() {
			wait = snapshotEvery - since
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-o.wake:
		case <-time.After(wait):
		}
	}
}

// purge erases from the stream the messages of the events a forget took
// (the database's purge list): it reads the stream once, headers only,
// and deletes each match securely (JetStream overwrites it). Events not
// published yet need nothing: they go out without the author.
func (o *Outbox) purge(ctx context.Context, st jetstream.Stream) error {
	ids, err := o.db.Purges(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("purge: stream info: %w", err)
	}
	erased := 0
	if last := info.State.LastSeq; info.State.Msgs > 0 {
		cons, err := o.node.js.OrderedConsumer(ctx, o.node.cfg.Stream, jetstream.OrderedConsumerConfig{HeadersOnly: true})
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		for seen := uint64(0); seen < last; {
			batch, err := cons.Fetch(512, jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				return fmt.Errorf("purge: %w", err)
			}
			n := 0
			for m := range batch.Messages() {
				n++
				meta, err := m.Metadata()
				if err != nil {
					continue
				}
				seen = meta.Sequence.Stream
				if v, err := strconv.ParseInt(m.Headers().Get(hdrSeq), 10, 64); err == nil && want[v] {
					if err := st.SecureDeleteMsg(ctx, seen); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
						return fmt.Errorf("purge: erase %d: %w", seen, err)
					}
					erased++
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				return fmt.Errorf("purge: %w", err)
			}
			if n == 0 {
				break
			}
		}
	}
	o.node.log.Info("cluster: forgotten posts erased from the stream", "messages", erased)
	return o.db.Purged(ctx, ids)
}

// ours checks a message of the stream against the database: an event id
// at or before the head, on the wall of its subject, of its type. It
// returns the id, or why the message is not one of this node's.
func (o *Outbox) ours(ctx context.Context, m *jetstream.RawStreamMsg) (int64, string) {
	v, err := strconv.ParseInt(m.Header.Get(hdrSeq), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Sprintf("%s %q is not an event id", hdrSeq, m.Header.Get(hdrSeq))
	}
	head, err := o.db.Head(ctx)
	if err != nil {
		return 0, "the database's head cannot be read: " + err.Error()
	}
	if v > head {
		return 0, fmt.Sprintf("event %d is past the database's head %d", v, head)
	}
	evs, through, _, err := o.db.Outbox(ctx, v-1, 1)
	switch {
	case err != nil:
		return 0, "the database cannot be read: " + err.Error()
	case through != v:
		return 0, fmt.Sprintf("event %d is not a display event of the database", v)
	case len(evs) == 1 && (o.node.subject(evs[0].Wall) != m.Subject || string(evs[0].Type) != m.Header.Get(hdrType) || !bytes.Equal(evs[0].Data, m.Data)):
		return 0, fmt.Sprintf("event %d differs from the database's", v)
	}
	return v, ""
}

// raise notes an alarm: /healthz answers 503 with it and the metric
// wallcast_outbox_alarm is 1, until the next start.
func (o *Outbox) raise(err error) {
	o.alarm.Store(&err)
	o.node.log.Error("cluster: outbox alarm", "err", err)
}

// Problem is the outbox's alarm, or nil.
func (o *Outbox) Problem() error {
	if p := o.alarm.Load(); p != nil {
		return *p
	}
	return nil
}

// snapshotEvery bounds how often a wall's snapshot is written.
const snapshotEvery = 250 * time.Millisecond

// behind says whether a snapshot waits to be written.
func (o *Outbox) behind() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.dirty) > 0 || !o.wallsSent
}

// send publishes events and waits for every acknowledgement; it returns
// the stream's last sequence after them.
func (o *Outbox) send(ctx context.Context, events []wall.Outgoing, last uint64) (uint64, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	for i, e := range events {
		m := nats.NewMsg(o.node.subject(e.Wall))
		m.Data = e.Data
		id := strconv.FormatInt(e.Seq, 10)
		m.Header.Set(hdrSeq, id)
		m.Header.Set(hdrPrev, strconv.FormatInt(e.Prev, 10))
		m.Header.Set(hdrType, string(e.Type))
		f, err := o.node.js.PublishMsgAsync(m, jetstream.WithMsgID(id), jetstream.WithExpectLastSequence(last+uint64(i)))
		if err != nil {
			return last, fmt.Errorf("publish %s: %w", id, err)
		}
		futures = append(futures, f)
	}
	timeout := time.After(10 * time.Second)
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			last = ack.Sequence
		case err := <-f.Err():
			return last, fmt.Errorf("publish %s: %w", f.Msg().Header.Get(hdrSeq), err)
		case <-timeout:
			return last, errors.New("no acknowledgement from JetStream within 10 s")
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
	return last, nil
}

// snapshot is a wall's snapshot in the bucket: its state at Head, and
// where on the stream an edge finds what came after.
type snapshot struct {
	wall.Snapshot
	StreamSeq uint64 `json:"stream_seq"`
}

// snapshots writes the walls to the bucket when they changed, and the
// snapshot of each wall whose events were published since its last one.
func (o *Outbox) snapshots(ctx context.Context, kv jetstream.KeyValue, last uint64) error {
	o.mu.Lock()
	dirty := o.dirty
	o.dirty = map[string]bool{}
	sendWalls := !o.wallsSent
	o.wallsSent = true
	o.mu.Unlock()
	walls := *o.walls.Load()
	if sendWalls {
		data, err := json.Marshal(walls)
		if err != nil {
			return err
		}
		if _, err := kv.Put(ctx, keyWalls, data); err != nil {
			o.mu.Lock()
			o.wallsSent = false
			o.mu.Unlock()
			return fmt.Errorf("walls to the bucket: %w", err)
		}
	}
	limit := int(o.node.nc.MaxPayload()) - 4096
	for _, w := range walls {
		if !dirty[w.Slug] {
			continue
		}
		snap, err := o.db.Snapshot(ctx, w.Slug, w.Display.MaxPosts)
		if err != nil {
			return err
		}
		data, _ := json.Marshal(snapshot{Snapshot: snap, StreamSeq: last})
		// A snapshot too big for one message keeps the newest posts.
		for len(data) > limit && len(snap.Posts) > 0 {
			snap.Posts = snap.Posts[len(snap.Posts)/4+1:]
			data, _ = json.Marshal(snapshot{Snapshot: snap, StreamSeq: last})
		}
		if _, err := kv.Put(ctx, keySnap+w.Slug, data); err != nil {
			o.mu.Lock()
			for slug := range dirty {
				o.dirty[slug] = true
			}
			o.mu.Unlock()
			return fmt.Errorf("snapshot of %s to the bucket: %w", w.Slug, err)
		}
	}
	return nil
}

// report is an edge's screen report, sent on the tally subject.
type report struct {
	Kind    string    `json:"kind"` // impression or screens
	Wall    string    `json:"wall"`
	Sponsor string    `json:"sponsor,omitempty"`
	Seconds int       `json:"seconds,omitempty"`
	At      time.Time `json:"at,omitzero"`
	Peak    int       `json:"peak,omitempty"`
}

// maxScreens bounds the screens one report may say an edge had at once
// (a process holds about 20,000 here; far above any real figure).
const maxScreens = 1_000_000

// check says why an edge's report is refused ("" when it is sound): a
// wall the ingest node runs, a sponsor of it, seconds within the card's
// length, a screens figure within bounds and a time near now.
func (o *Outbox) check(r report, now time.Time) string {
	var w *config.Wall
	walls := *o.walls.Load()
	for i := range walls {
		if walls[i].Slug == r.Wall {
			w = &walls[i]
		}
	}
	if w == nil {
		return "unknown wall"
	}
	switch r.Kind {
	case "impression":
		sp, ok := w.Sponsor(r.Sponsor)
		switch {
		case !ok:
			return "unknown sponsor"
		case r.Seconds < 1 || r.Seconds > sp.Seconds:
			return "seconds out of the card's length"
		}
	case "screens":
		switch {
		case r.Peak < 1 || r.Peak > maxScreens:
			return "screens out of bounds"
		case r.At.Before(now.Add(-10*time.Minute)) || r.At.After(now.Add(time.Minute)):
			return "time not near now"
		}
	default:
		return "unknown kind"
	}
	return ""
}

// tally writes the edges' screen reports to the database; reports that
// do not pass check are dropped and counted.
func (o *Outbox) tally(ctx context.Context) nats.MsgHandler {
	return func(m *nats.Msg) {
		var r report
		if err := json.Unmarshal(m.Data, &r); err != nil {
			o.dropped.Add(1)
			o.node.log.Warn("cluster: a report from an edge that is not JSON", "err", err)
			return
		}
		if why := o.check(r, time.Now()); why != "" {
			o.dropped.Add(1)
			o.node.log.Warn("cluster: an edge's report refused", "kind", r.Kind, "wall", r.Wall, "why", why)
			return
		}
		var err error
		switch r.Kind {
		case "impression":
			err = o.db.Impression(ctx, r.Wall, r.Sponsor, r.Seconds)
		case "screens":
			err = o.db.Screens(ctx, r.Wall, r.At, r.Peak)
		}
		if err != nil && ctx.Err() == nil {
			o.node.log.Warn("cluster: an edge's report not stored", "kind", r.Kind, "wall", r.Wall, "err", err)
		}
	}
}
