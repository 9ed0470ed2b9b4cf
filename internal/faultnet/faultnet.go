// Package faultnet is a TCP proxy for tests that puts the faults of real
// networks between a client and its server: latency, a bandwidth limit, a
// reset, a half-open connection, a cut at a chosen byte of the answer, and
// a connection accepted but never answered (a TLS handshake that never
// finishes). It also has a dialer whose name lookups fail.
package faultnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Action is what happens to a connection where its fault strikes.
type Action int

const (
	// Cut forwards the answer up to the fault's byte and closes (FIN).
	Cut Action = iota
	// Reset forwards up to the fault's byte and resets the connection (RST).
	Reset
	// Freeze forwards up to the fault's byte, then nothing more either way,
	// without closing: a half-open connection.
	Freeze
)

// Fault is what the proxy does to the connections it hits.
type Fault struct {
	Name string
	// Latency is added before every piece forwarded, both ways.
	Latency time.Duration
	// Bandwidth caps the answer's bytes per second (0: no cap).
	Bandwidth int
	// At finds where the fault strikes in the bytes a connection has
	// answered so far: their index, or -1 for not yet. Nil: never.
	At func(answer []byte) int
	// Then is what happens there.
	Then Action
	// Silent accepts connections and never answers them.
	Silent bool
	// Conns is how many connections, from the first, the fault hits (0:
	// every one). Latency and Bandwidth hit every connection regardless.
	Conns int
	// Once makes an At fault strike one time only, on whichever
	// connection reaches its byte first (a client whose first connection
	// is not the one that carries the posts, like a WebSocket beside a
	// REST fill).
	Once bool
}

// Proxy forwards connections to a target through a fault.
type Proxy struct {
	ln     net.Listener
	target string
	fault  Fault
	conns  atomic.Int32
	struck atomic.Int32
	once   atomic.Bool // an Once fault has struck
	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a proxy on a loopback port in front of target (host:port).
func Listen(target string, f Fault) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, fault: f, open: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Conns is how many connections the proxy has accepted.
func (p *Proxy) Conns() int { return int(p.conns.Load()) }

// Struck is how many times the fault struck.
func (p *Proxy) Struck() int { return int(p.struck.Load()) }

// Close stops the proxy and closes every connection it holds.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *Proxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		n := int(p.conns.Add(1))
		hit := p.fault.Conns == 0 || n <= p.fault.Conns
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.forget(c)
			p.serve(c, hit)
		}()
	}
}

func (p *Proxy) serve(client net.Conn, hit bool) {
	if hit && p.fault.Silent {
		p.struck.Add(1)
		io.Copy(io.Discard, client) // until the client gives up
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.forget(server)
	frozen := make(chan struct{})
	reqDone, ansDone := make(chan struct{}), make(chan struct{})
	go func() { // the request side
		p.pipe(server, client, frozen, nil)
		close(reqDone)
	}()
	go func() { // the answer side, where faults strike
		defer close(ansDone)
		var at func([]byte) int
		if hit {
			at = p.fault.At
		}
		switch p.pipe(client, server, frozen, at) {
		case struckCut:
			server.Close()
		case struckReset:
			if tc, ok := client.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			client.Close()
			server.Close()
		case struckFreeze:
			// Forward nothing more either way and close nothing, until
			// the client gives up or the proxy closes.
			close(frozen)
			<-reqDone
		}
	}()
	<-ansDone
	<-reqDone
}

type outcome int

const (
	ended outcome = iota
	struckCut
	struckReset
	struckFreeze
)

// pipe copies src to dst with the fault's latency and bandwidth; with at,
// it stops where at finds the fault's byte.
func (p *Proxy) pipe(dst, src net.Conn, frozen <-chan struct{}, at func([]byte) int) outcome {
	out := ended
	defer func() {
		if tc, ok := dst.(*net.TCPConn); ok && (out == ended || out == struckCut) {
			tc.CloseWrite()
		}
	}()
	var seen []byte
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			struck := false
			if at != nil {
				base := len(seen)
				seen = append(seen, chunk...)
				if i := at(seen); i >= 0 && i < len(seen) && (!p.fault.Once || p.once.CompareAndSwap(false, true)) {
					chunk, struck = seen[base:max(i, base)], true
				}
			}
			select {
			case <-frozen:
				continue // half-open: swallow what comes
			default:
			}
			if p.fault.Latency > 0 {
				time.Sleep(p.fault.Latency)
			}
			if err := p.write(dst, chunk); err != nil {
				return ended
			}
			if struck {
				p.struck.Add(1)
				out = [...]outcome{Cut: struckCut, Reset: struckReset, Freeze: struckFreeze}[p.fault.Then]
				return out
			}
		}
		if err != nil {
			return ended
		}
	}
}

// write writes b, paced to the bandwidth cap.
func (p *Proxy) write(dst net.Conn, b []byte) error {
	bw := p.fault.Bandwidth
	for len(b) > 0 {
		n := len(b)
		if bw > 0 {
			n = min(n, max(bw/20, 1))
		}
		if bw > 0 {
			time.Sleep(time.Duration(n) * time.Second / time.Duration(bw))
		}
		if _, err := dst.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// After finds the k-th (from 1) occurrence of marker and strikes off bytes
// past its start.
func After(marker string, k, off int) func([]byte) int {
	m := []byte(marker)
	return func(b []byte) int {
		from := 0
		for i := 1; ; i++ {
			j := bytes.Index(b[from:], m)
			if j < 0 {
				return -1
			}
			if i == k {
				if from+j+off >= len(b) {
					return -1
				}
				return from + j + off
			}
			from += j + len(m)
		}
	}
}

// InChunkSize strikes inside the k-th chunk-size line of the first chunked
// HTTP answer on a connection, after its first hex digit; it never strikes
// on other answers.
func InChunkSize(k int) func([]byte) int {
	return func(b []byte) int {
		// The first chunked answer on the connection (others may precede
		// it on a kept-alive connection).
		te := bytes.Index(bytes.ToLower(b), []byte("\r\ntransfer-encoding: chunked\r\n"))
		if te < 0 {
			return -1
		}
		h := bytes.Index(b[te:], []byte("\r\n\r\n"))
		if h < 0 {
			return -1
		}
		pos, seen := te+h+4, 0
		for pos < len(b) {
			end := bytes.Index(b[pos:], []byte("\r\n"))
			if end < 0 {
				return -1
			}
			seen++
			if seen == k {
				if end < 1 {
					return -1
				}
				return pos + 1
			}
			var size int
			for _, c := range b[pos : pos+end] {
				switch {
				case c >= '0' && c <= '9':
					size = size*16 + int(c-'0')
				case c >= 'a' && c <= 'f':
					size = size*16 + int(c-'a') + 10
				case c >= 'A' && c <= 'F':
					size = size*16 + int(c-'A') + 10
				}
			}
			pos += end + 2 + size + 2
		}
		return -1
	}
}

// ErrNoSuchHost is the lookup failure of FailingDNS.
var ErrNoSuchHost = errors.New("no such host")

// FailingDNS returns a DialContext that sends every connection to addr,
// except that the first fails lookups fail as a resolver's do.
func FailingDNS(addr string, fails int) func(ctx context.Context, network, address string) (net.Conn, error) {
	var n atomic.Int32
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if int(n.Add(1)) <= fails {
			host, _, _ := net.SplitHostPort(address)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: ErrNoSuchHost.Error(), Name: host, IsNotFound: true}}
		}
		return d.DialContext(ctx, network, addr)
	}
}
