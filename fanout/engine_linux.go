package fanout

import (
	"errors"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wallcast/wallcast/internal/sockfd"
)

// The fan-out engine serves screens on HTTP/1.1 without a goroutine or a
// timer per screen. After the catch-up, a screen's connection is taken over
// from net/http and kept as a position in its wall's ring of encoded
// frames. A few writer goroutines write what each connection has not had
// yet with non-blocking write() calls, several frames in one call when
// several are waiting; one epoll instance reports a closed peer (RDHUP) and
// a full socket becoming writable again (edge-triggered OUT). An idle
// screen costs its socket and about two hundred bytes.

// ringSize is how many frames a wall keeps for connections behind it: a
// connection that falls further behind is closed and resumes from its
// Last-Event-ID.
const ringSize = 4096

type ring struct {
	mu     sync.RWMutex
	frames [ringSize]Frame
	head   uint64     // position of the next frame
	conns  [][]*econn // one list per writer
}

// econn is one taken-over connection. Its socket is out of the runtime's
// poller; only its writer writes to it and closes it, so a descriptor is
// never written after it was closed (and perhaps reused).
type econn struct {
	id     int32
	fd     int
	ring   *ring
	writer int
	idx    int    // position in ring.conns[writer]
	pos    uint64 // next frame to write; only its writer touches pos and off
	off    int    // bytes of frame pos already written
	skip   int64  // frames with 0 < Seq <= skip were sent by the catch-up
	// busy: something other than a heartbeat was written since the last
	// heartbeat came by, so the next one is left out.
	busy bool
	// blockedAt is when a write last found the socket full (unix ns, 0:
	// not blocked).
	blockedAt atomic.Int64
	done      func()      // called once the connection is closed
	dead      atomic.Bool // dropped: its writer closes it
}

// Engine serves taken-over HTTP/1.1 connections from per-wall rings of
// frames (see the comment at the top of this file).
type Engine struct {
	epfd    int
	wake    []chan struct{}
	timeout time.Duration

	mu      sync.Mutex
	conns   map[int32]*econn
	next    int32
	rings   map[string]*ring
	count   atomic.Int64
	done    chan struct{}
	closed  bool // under mu: no more adoptions
	writers sync.WaitGroup
	// adopted counts takeovers since the last memory hand-back; lastAdopt
	// is when the last one happened (unix ns).
	adopted   atomic.Int64
	lastAdopt atomic.Int64
	// relieve is the hub's Relieve: called when an adoption finds no
	// descriptor left.
	relieve func() int
}

func newEngine(timeout time.Duration) *Engine {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	n := max(runtime.GOMAXPROCS(0), 1)
	e := &Engine{epfd: fd, timeout: timeout, conns: map[int32]*econn{}, rings: map[string]*ring{}, done: make(chan struct{})}
	for i := 0; i < n; i++ {
		e.wake = append(e.wake, make(chan struct{}, 1))
	}
	e.writers.Add(n)
	for i := 0; i < n; i++ {
		go e.writer(i)
	}
	go e.poll()
	return e
}

func (e *Engine) ring(wall string) *ring {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rings[wall]
	if r == nil {
		r = &ring{conns: make([][]*econn, len(e.wake))}
		e.rings[wall] = r
	}
	return r
}

// Head is the ring position a new screen starts from, taken before its
// catch-up is read from disk.
func (e *Engine) Head(wall string) uint64 {
	r := e.ring(wall)
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.head
}

// publish appends frames to a wall's ring and wakes the writers.
func (e *Engine) publish(wall string, frames []Frame) {
	r := e.ring(wall)
	r.mu.Lock()
	for _, f := range frames {
		r.frames[r.head%ringSize] = f
		r.head++
	}
	r.mu.Unlock()
	e.wakeAll()
}

func (e *Engine) wakeAll() {
	for k := range e.wake {
		e.wakeWriter(k)
	}
}

// wakeWriter makes writer k sweep its connections soon (once, however many
// ask before it does).
func (e *Engine) wakeWriter(k int) {
	select {
	case e.wake[k] <- struct{}{}:
	default:
	}
}

// Adopt takes over a connection whose catch-up (up to seq skip) is written:
// from now on it gets the wall's frames from ring position pos. The engine
// owns nc from here on, and closes it on error; done (if not nil) is
// called once it is closed, whatever the path.
func (e *Engine) Adopt(nc net.Conn, wall string, pos uint64, skip int64, done func()) error {
	if done == nil {
		done = func() {}
	}
	fd, err := sockfd.Detach(nc)
	// No descriptor left for the copy: screens that are gone make room
	// (a venue's screens coming back while their old connections are
	// half-open), within a few seconds.
	for wait := time.Now().Add(5 * time.Second); (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && time.Now().Before(wait); {
		if e.relieve != nil {
			e.relieve()
		}
		time.Sleep(50 * time.Millisecond)
		fd, err = sockfd.Detach(nc)
	}
	if err != nil {
		nc.Close()
		done()
		return err
	}
	// A screen whose peer vanished (a venue's Wi-Fi restarted: no FIN,
	// no reset) is closed once what was sent to it stays unacknowledged
	// this long, and its descriptor freed for the screen coming back.
	sockfd.SetUserTimeout(fd, DeadAfter)
	r := e.ring(wall)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		syscall.Close(fd)
		done()
		return errors.New("the engine is closed")
	}
	e.next++
	c := &econn{id: e.next, fd: fd, ring: r, pos: pos, skip: skip, done: done}
	c.writer = int(c.id) % len(e.wake)
	e.conns[c.id] = c
	e.mu.Unlock()
	// In the ring's list before epoll can report anything about it, so a
	// peer that hangs up at once is dropped cleanly.
	r.mu.Lock()
	c.idx = len(r.conns[c.writer])
	r.conns[c.writer] = append(r.conns[c.writer], c)
	r.mu.Unlock()
	e.count.Add(1)
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLOUT | (syscall.EPOLLET & 0xffffffff), Fd: c.id}
	if err := syscall.EpollCtl(e.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		e.drop(c)
		return err
	}
	e.adopted.Add(1)
	e.lastAdopt.Store(time.Now().UnixNano())
	e.wakeWriter(c.writer)
	return nil
}

// settle hands memory back to the system after a storm of connections
// (thousands of screens reconnecting at once leave request buffers and
// goroutine stacks behind). Idle connections allocate nothing, so without
// this the garbage would wait for the runtime's two-minute forced GC.
func (e *Engine) settle() {
	if e.adopted.Load() >= 1000 && time.Since(time.Unix(0, e.lastAdopt.Load())) > 2*time.Second {
		e.adopted.Store(0)
		debug.FreeOSMemory()
	}
}

// drop marks a connection for closing, from any goroutine; its writer
// closes it.
func (e *Engine) drop(c *econn) {
	if !c.dead.CompareAndSwap(false, true) {
		return
	}
	e.count.Add(-1)
	e.wakeWriter(c.writer)
}

// release closes a dropped connection and forgets it: only from its
// writer, or once the writers have stopped. Closing the descriptor also
// takes it out of the epoll instance (the engine holds its only copy).
func (e *Engine) release(c *econn) {
	r := c.ring
	r.mu.Lock()
	list := r.conns[c.writer]
	if c.idx < len(list) && list[c.idx] == c {
		last := list[len(list)-1]
		list[c.idx] = last
		last.idx = c.idx
		r.conns[c.writer] = list[:len(list)-1]
	}
	r.mu.Unlock()
	e.mu.Lock()
	_, held := e.conns[c.id]
	delete(e.conns, c.id)
	e.mu.Unlock()
	if held {
		syscall.Close(c.fd)
		c.done()
	}
}

// poll reads the epoll instance: closed peers go, writable sockets are
// written again.
func (e *Engine) poll() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(e.epfd, events, 1000)
		select {
		case <-e.done:
			return
		default:
		}
		e.settle()
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			e.mu.Lock()
			c := e.conns[ev.Fd]
			e.mu.Unlock()
			if c == nil {
				continue
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				e.drop(c)
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 && c.blockedAt.Swap(0) != 0 {
				e.wakeWriter(c.writer)
			}
		}
	}
}

// writer serves one share of the connections of every wall.
func (e *Engine) writer(k int) {
	defer e.writers.Done()
	buf := make([]byte, 0, 64<<10)
	frames := make([]Frame, 0, 64)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var conns []*econn
	for {
		select {
		case <-e.done:
			return
		case <-e.wake[k]:
		case <-tick.C:
		}
		e.mu.Lock()
		rings := make([]*ring, 0, len(e.rings))
		for _, r := range e.rings {
			rings = append(rings, r)
		}
		e.mu.Unlock()
		now := time.Now().UnixNano()
		// behind: a screen that keeps up got only part of what is waiting
		// (one write holds 64 frames): the writer comes back at once
		// rather than on its tick.
		behind := false
		for _, r := range rings {
			// One look at the ring per sweep: the newest frames, which is
			// all that screens keeping up need, without touching the lock
			// again for each of them.
			r.mu.RLock()
			conns = append(conns[:0], r.conns[k]...)
			r.mu.RUnlock()
			var snap snapshot
			for i, c := range conns {
				// Look again now and then: a frame published during the
				// sweep goes out with the one before it, in the same write.
				if i%128 == 0 {
					// Let the rest of the server run between stretches of
					// writes: a post on its way in must not wait for a whole
					// sweep to get a processor.
					if i > 0 {
						runtime.Gosched()
					}
					snap.take(r)
				}
				if c.dead.Load() {
					e.release(c)
					continue
				}
				if b := c.blockedAt.Load(); b != 0 {
					if time.Duration(now-b) > e.timeout {
						e.drop(c) // a screen that takes nothing for this long is gone
						e.release(c)
					}
					continue
				}
				if c.pos == snap.head {
					continue
				}
				buf, frames = e.flush(c, &snap, buf[:0], frames[:0])
				switch {
				case c.dead.Load():
					e.release(c)
				case c.pos < snap.head && c.blockedAt.Load() == 0:
					behind = true
				}
			}
		}
		if behind {
			e.wakeWriter(k)
		}
	}
}

// snapshot is the newest frames of a ring, as a writer saw them.
type snapshot struct {
	from, head uint64
	frames     [16]Frame
}

func (s *snapshot) take(r *ring) {
	r.mu.RLock()
	s.head = r.head
	s.from = r.head - min(r.head, uint64(len(s.frames)))
	for p := s.from; p < s.head; p++ {
		s.frames[p-s.from] = r.frames[p%ringSize]
	}
	r.mu.RUnlock()
}

// flush writes what a connection has not had yet, in one write().
func (e *Engine) flush(c *econn, snap *snapshot, buf []byte, frames []Frame) ([]byte, []Frame) {
	size := 0
	if c.pos >= snap.from && c.pos <= snap.head {
		for p := c.pos; p < snap.head; p++ {
			f := snap.frames[p-snap.from]
			frames = append(frames, f)
			size += len(f.Bytes)
		}
	} else {
		r := c.ring
		r.mu.RLock()
		head := r.head
		if head-c.pos > ringSize {
			r.mu.RUnlock()
			e.drop(c) // too slow: it resumes from its Last-Event-ID
			return buf, frames
		}
		for p := c.pos; p < head && size < cap(buf) && len(frames) < 64; p++ {
			f := r.frames[p%ringSize]
			frames = append(frames, f)
			size += len(f.Bytes)
		}
		r.mu.RUnlock()
	}
	if len(frames) == 0 {
		return buf, frames
	}
	// What each frame still has to write: nothing for the frames the
	// catch-up already sent, the rest of the first one if it was cut.
	var lens [64]int
	var one []byte
	pieces := 0
	for i, f := range frames {
		b := f.Bytes
		switch {
		case f.Seq != 0 && f.Seq <= c.skip:
			b = nil
		case i == 0 && c.off > 0:
			b = b[c.off:] // the rest of a frame cut short
		case f.ping:
			// A stream that carried data since the last heartbeat needs
			// none to keep proxies awake: no stream is silent for more than
			// two heartbeat intervals.
			if c.busy {
				b = nil
			}
			c.busy = false
		default:
			c.busy = true
		}
		if i < len(lens) {
			lens[i] = len(b)
		}
		if len(b) > 0 {
			pieces++
			one = b
			buf = append(buf, b...)
		}
	}
	out := buf
	if pieces == 1 {
		out = one // a single frame goes out as it is, shared with every screen
	}
	n := 0
	if len(out) > 0 {
		// Noted as blocked before the write: epoll's edge for the socket
		// draining may come before the write returns, and must find the
		// mark to clear (or the screen would wait out write_timeout
		// though it reads). A write that goes out whole clears it; one
		// cut short whose mark an edge already cleared is simply written
		// again on the sweep that edge asked for.
		c.blockedAt.Store(time.Now().UnixNano())
		var err error
		n, err = c.write(out)
		if err != nil && !errors.Is(err, syscall.EAGAIN) {
			e.drop(c)
			return buf, frames
		}
		if n == len(out) {
			c.blockedAt.Store(0)
		}
	}
	for i := range frames {
		if i >= len(lens) {
			break
		}
		if n >= lens[i] {
			n -= lens[i]
			c.pos++
			c.off = 0
			continue
		}
		if i == 0 {
			c.off += n
		} else {
			c.off = n
		}
		break
	}
	return buf, frames
}

// write is one non-blocking send(): it never waits for the socket.
func (c *econn) write(b []byte) (int, error) { return sockfd.Send(c.fd, b) }

// DeadAfter is how long what was sent to a screen may stay
// unacknowledged before the kernel closes the connection.
const DeadAfter = 20 * time.Second

// ShedDead closes the screens whose peer looks gone (sockfd.Gone: data
// unacknowledged through two retransmissions, nothing acknowledged for
// quiet): under pressure (no descriptor or stream left for a screen coming
// back), those are the connections of screens that are gone. It returns
// how many it closed.
func (e *Engine) ShedDead(quiet time.Duration) int {
	e.mu.Lock()
	defer e.mu.Unlock() // held: no descriptor is closed (and reused) while it is read
	n := 0
	for _, c := range e.conns {
		if c.dead.Load() {
			continue
		}
		if gone, err := sockfd.Gone(c.fd, quiet); err == nil && gone {
			e.drop(c)
			n++
		}
	}
	return n
}

// pingAll puts a heartbeat into every wall's ring: one schedule for all.
func (e *Engine) pingAll() {
	e.mu.Lock()
	walls := make([]string, 0, len(e.rings))
	for w := range e.rings {
		walls = append(walls, w)
	}
	e.mu.Unlock()
	for _, w := range walls {
		e.publish(w, []Frame{pingFrame})
	}
}

// dropWall closes the connections of one wall.
func (e *Engine) dropWall(wall string) {
	r := e.ring(wall)
	r.mu.RLock()
	var conns []*econn
	for _, l := range r.conns {
		conns = append(conns, l...)
	}
	r.mu.RUnlock()
	for _, c := range conns {
		e.drop(c)
	}
}

// Open is the number of connections the engine serves.
func (e *Engine) Open() int64 { return e.count.Load() }

func (e *Engine) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	close(e.done)
	e.mu.Unlock()
	e.writers.Wait()
	e.mu.Lock()
	conns := make([]*econn, 0, len(e.conns))
	for _, c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		e.drop(c)
		e.release(c)
	}
	syscall.Close(e.epfd)
}

func (e *Engine) setRelief(f func() int) { e.relieve = f }
