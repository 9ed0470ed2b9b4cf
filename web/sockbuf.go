package web

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"

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

// smallSendBuffer gives a connection the screen send buffer. An HTTP/2
// connection carries other streams too, and is left alone.
func smallSendBuffer(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(ScreenSendBuffer)
	}
}

// openStream starts an event stream on the goroutine path: the headers,
// the status, a small send buffer, and a writer with a deadline per write.
func (s *Server) openStream(w http.ResponseWriter, r *http.Request) *streamWriter {
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok && r.ProtoMajor == 1 {
		smallSendBuffer(c)
	}
	sse.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	return &streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.Config().Server.WriteTimeout.D()}
}
