package fanout

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wallcast/wallcast/sse"
)

// ScreenSendBuffer is the kernel send buffer of a screen's socket. Left to
// itself, Linux grows a socket's send buffer up to 4 MiB on loopback and
// fast links: a screen that stops reading then never makes a write block,
// the write_timeout clock never starts, and the kernel holds megabytes for
// a dead screen. 32 KiB (Linux doubles it for its bookkeeping) holds tens
// of posts, far more than a screen keeping up ever has in flight, so a
// screen that takes nothing fills it within a few posts and is closed
// write_timeout later; it resumes from its Last-Event-ID when it returns.
const ScreenSendBuffer = 32 << 10

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it gives a stream's handler
// its connection, so the stream can size the socket's send buffer.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// SmallSendBuffer gives a connection the screen send buffer. An HTTP/2
// connection carries other streams too, and is left alone.
func SmallSendBuffer(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(ScreenSendBuffer)
	}
}

// OpenStream starts an event stream on the goroutine path: the headers,
// the status, a small send buffer, and a writer with a deadline per write.
func OpenStream(w http.ResponseWriter, r *http.Request, timeout time.Duration) *StreamWriter {
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok && r.ProtoMajor == 1 {
		SmallSendBuffer(c)
	}
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	return &StreamWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// StreamWriter writes to one screen, each write bounded by a deadline so a
// stalled screen costs one timeout, not a stuck goroutine.
type StreamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// Send sends b in pieces of at most 16 KiB, each with a fresh deadline:
// the deadline bounds how long a screen may take nothing, not how long a
// big write may take to a screen that reads (the send buffer is small).
func (sw *StreamWriter) Send(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 16<<10)
		if err := sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := sw.w.Write(b[:n]); err != nil {
			return err
		}
		if err := sw.rc.Flush(); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// LastEventID reads the id a screen resumes from: the Last-Event-ID header,
// or ?lastEventId= for clients that cannot set headers.
func LastEventID(r *http.Request) (id int64, present, valid bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("lastEventId")
	}
	if v == "" {
		return 0, false, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n, true, err == nil && n >= 0
}

// Pieces collects a stream's catch-up and writes it in pieces of about
// 32 KiB, each one write with its own deadline: a long catch-up to a
// screen that reads is not cut by a deadline meant for one write, and
// none is held in memory whole.
type Pieces struct {
	buf  bytes.Buffer
	Send func([]byte) error
	err  error // the first failed write: nothing more is written
}

func (p *Pieces) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	p.buf.Write(b)
	if p.buf.Len() >= 32<<10 {
		return len(b), p.Flush()
	}
	return len(b), nil
}

// Err is the first failed write's error (nil: none yet).
func (p *Pieces) Err() error { return p.err }

// Flush writes what is collected; it returns the first failed write's error.
func (p *Pieces) Flush() error {
	if p.err == nil && p.buf.Len() > 0 {
		p.err = p.Send(p.buf.Bytes())
		p.buf.Reset()
	}
	return p.err
}

// AppendFrame adds a live frame to buf unless the catch-up already sent
// it (its seq is at or before last), and returns the seq now sent.
func AppendFrame(buf *bytes.Buffer, f Frame, last int64) int64 {
	if f.Seq == 0 {
		buf.Write(f.Bytes)
		return last
	}
	if f.Seq <= last {
		return last // already sent from disk
	}
	buf.Write(f.Bytes)
	return f.Seq
}
