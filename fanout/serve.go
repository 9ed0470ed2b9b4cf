package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

// Reader is what a screen's catch-up reads: the wall's log after an id,
// or its snapshot (the database on the ingest node, the stream's copy on
// an edge).
type Reader interface {
	Replay(ctx context.Context, wall string, after int64, limit int) ([]wall.Event, bool, error)
	Snapshot(ctx context.Context, wall string, n int) (wall.Snapshot, error)
}

// Stream is a screen's event stream as the web side hands it over, its
// request checked and its slot taken.
type Stream struct {
	Wall         string
	Reader       Reader
	MaxPosts     int           // display.max_posts: a catch-up further behind is a backfill
	Retry        time.Duration // the stream's retry: line
	WriteTimeout time.Duration
	Trailer      []byte       // written after the catch-up (the stream's screen event)
	Release      func()       // called once when the stream ends
	Log          *slog.Logger // where a failed catch-up is told
}

// Serve serves a screen's event stream: it notes where the wall's live
// events stand, catches up from the reader (the events after the
// screen's Last-Event-ID, or a backfill), writes the trailer, then goes
// live from the noted place, so nothing committed meanwhile is missed and
// nothing the catch-up sent is sent twice. HTTP/1.1 without TLS goes to
// the engine where it runs (no goroutine per screen); anything else is
// served by this goroutine until the stream ends.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, st Stream) {
	if h.Closed() {
		st.Release()
		w.Header().Set("Retry-After", "2")
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	// The engine writes plain bytes to the socket: HTTP/1.1 without TLS
	// (Wallcast does not terminate TLS itself; a proxy in front does).
	if h.Engine() != nil && r.ProtoMajor == 1 && r.TLS == nil {
		if _, ok := w.(http.Hijacker); ok {
			h.adopt(w, r, st)
			return
		}
	}
	h.serve(w, r, st)
}

// serve is the goroutine path: subscribed first, then the catch-up;
// whatever commits meanwhile is in both, and the seq check drops the copy.
func (h *Hub) serve(w http.ResponseWriter, r *http.Request, st Stream) {
	defer st.Release()
	sub := h.Subscribe(st.Wall)
	if sub == nil {
		w.Header().Set("Retry-After", "2")
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.Unsubscribe(sub)
	h.streams.Add(1)
	defer h.streams.Add(-1)
	sw := OpenStream(w, r, st.WriteTimeout)
	out := &Pieces{Send: sw.Send}
	fmt.Fprintf(out, "retry: %d\n\n", st.Retry.Milliseconds())
	last, err := catchUp(r, st, out)
	if err != nil {
		st.Log.Info("sse catch-up", "wall", st.Wall, "err", err)
		return
	}
	var buf bytes.Buffer
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.Done():
			if sub.Slow() {
				st.Log.Info("sse: slow screen disconnected", "wall", st.Wall, "last_id", last)
			}
			return
		case f := <-sub.C:
			// Coalesce what is already queued into one write.
			buf.Reset()
			last = AppendFrame(&buf, f, last)
		more:
			for buf.Len() < 64<<10 {
				select {
				case f := <-sub.C:
					last = AppendFrame(&buf, f, last)
				default:
					break more
				}
			}
			if buf.Len() == 0 {
				continue
			}
			if err := sw.Send(buf.Bytes()); err != nil {
				return
			}
		}
	}
}

// adopt is the engine path: it takes the connection over from net/http,
// writes the response head and the catch-up itself, and hands the
// connection to the engine from the ring position it noted before
// reading the catch-up.
func (h *Hub) adopt(w http.ResponseWriter, r *http.Request, st Stream) {
	adopted := false
	defer func() {
		if !adopted {
			st.Release()
		}
	}()
	eng := h.Engine()
	pos := eng.Head(st.Wall)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		st.Log.Error("sse: cannot take the connection over", "err", err)
		return
	}
	SmallSendBuffer(conn)
	hd := w.Header()
	sse.SetHeaders(hd)
	// The body ends when the connection does: no chunked framing, which
	// the engine's plain writes could not keep up.
	hd.Set("Connection", "close")
	out := &Pieces{Send: func(b []byte) error {
		for len(b) > 0 {
			conn.SetWriteDeadline(time.Now().Add(st.WriteTimeout))
			n, err := conn.Write(b[:min(len(b), 16<<10)])
			if err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}}
	out.Write([]byte("HTTP/1.1 200 OK\r\n"))
	hd.Write(out)
	fmt.Fprintf(out, "\r\nretry: %d\n\n", st.Retry.Milliseconds())
	last, err := catchUp(r, st, out)
	if err != nil {
		st.Log.Info("sse catch-up", "wall", st.Wall, "err", err)
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	adopted = true // the engine releases the slot when it closes the connection
	if err := eng.Adopt(conn, st.Wall, pos, last, st.Release); err != nil {
		st.Log.Error("sse: engine", "err", err) // adopt has closed the connection
	}
}

// catchUp writes what a screen missed to out, then the trailer, and sends
// it: the events after its Last-Event-ID, or a backfill of the newest
// posts (after a reset when its id is unknown, or so far behind that
// replaying would cost more than a fresh start). It returns the seq the
// screen is now up to date with.
//
// A screen shows at most max_posts posts, so a resume point more than
// max_posts display events behind gains nothing from a replay: a reset
// and a backfill bring it to the same state. That bounds what one
// connection, logged in or not, can make the server read and send
// (Last-Event-ID: 0 on a wall with a long log is a backfill).
func catchUp(r *http.Request, st Stream, out *Pieces) (int64, error) {
	last, err := catchUpEvents(r, st, out)
	if err != nil {
		return 0, err
	}
	out.Write(st.Trailer)
	return last, out.Flush()
}

func catchUpEvents(r *http.Request, st Stream, out io.Writer) (int64, error) {
	ctx := r.Context()
	after, present, valid := LastEventID(r)
	if present && valid {
		bound := max(st.MaxPosts, 1)
		events, ok, err := st.Reader.Replay(ctx, st.Wall, after, bound+1)
		if err != nil {
			return 0, err
		}
		if ok && len(events) <= bound {
			last := after
			for _, e := range events {
				if _, err := out.Write(Encode(e)); err != nil {
					return 0, err
				}
				last = e.Seq
			}
			return last, nil
		}
	}
	if present {
		out.Write(Encode(wall.Event{Type: wall.EventReset, Data: json.RawMessage(`{}`)}))
	}
	snap, err := st.Reader.Snapshot(ctx, st.Wall, st.MaxPosts)
	if err != nil {
		return 0, err
	}
	var joined []wall.Event
	for _, p := range snap.Posts {
		data, _ := json.Marshal(p)
		joined = append(joined, wall.Event{Type: wall.EventPost, Data: data})
	}
	for _, a := range snap.Announcements {
		data, _ := json.Marshal(a)
		joined = append(joined, wall.Event{Type: wall.EventAnnounce, Data: data})
	}
	// The screen joins the show where it stands.
	if snap.Show != nil {
		show := *snap.Show // a copy: an edge's snapshot is shared
		if show.Feature != nil && !show.Until.After(time.Now()) {
			show.Feature, show.Until = nil, time.Time{}
		}
		data, _ := json.Marshal(show)
		joined = append(joined, wall.Event{Type: wall.EventShow, Data: data})
	}
	if snap.Poll != nil {
		data, _ := json.Marshal(snap.Poll)
		joined = append(joined, wall.Event{Type: wall.EventPoll, Data: data})
	}
	if snap.Room != nil {
		data, _ := json.Marshal(snap.Room)
		joined = append(joined, wall.Event{Type: wall.EventRoom, Data: data})
	}
	for _, e := range append(joined, snap.Events...) {
		if _, err := out.Write(Encode(e)); err != nil {
			return 0, err
		}
	}
	// The resume point rides on an event with data: a bare id line would
	// do for browsers, but some widely used client parsers take an id only
	// with data, and would replay the backfill as new after a reconnect.
	_, err = fmt.Fprintf(out, "id: %d\nevent: %s\ndata: {}\n\n", snap.Head, wall.EventReady)
	return snap.Head, err
}
