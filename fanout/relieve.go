package fanout

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// ShedQuiet is how long a screen's peer must have acknowledged nothing,
// while data waits for it, for Relieve to take it for gone.
const ShedQuiet = 3 * time.Second

// Relieve is called when a screen coming back finds no descriptor or no
// stream slot left (a venue's Wi-Fi restarted: every screen reconnects
// from a new address while its old connection stays half-open, no FIN, no
// reset). It closes the engine's screens that are gone (ShedDead), at most
// once per second; when it finds none yet, it sends every screen a
// heartbeat, so that a vanished one has data waiting within a round trip
// and is found at the next look. It returns how many it closed.
func (h *Hub) Relieve() int {
	e := h.Engine()
	if e == nil {
		return 0
	}
	now := time.Now().UnixNano()
	last := h.relieved.Load()
	if now-last < int64(time.Second) || !h.relieved.CompareAndSwap(last, now) {
		return 0
	}
	n := e.ShedDead(ShedQuiet)
	if n == 0 {
		e.pingAll()
	}
	h.shed.Add(int64(n))
	return n
}

// Shed is how many screens Relieve closed.
func (h *Hub) Shed() int64 { return h.shed.Load() }

// ReliefListener calls relieve whenever an accept fails for want of a file
// descriptor; the error goes on to the HTTP server, which tries again
// shortly.
func ReliefListener(ln net.Listener, relieve func() int) net.Listener {
	return reliefListener{Listener: ln, relieve: relieve}
}

type reliefListener struct {
	net.Listener
	relieve func() int
}

func (l reliefListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) {
		l.relieve()
	}
	return c, err
}
