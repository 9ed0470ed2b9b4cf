//go:build !linux

package bench

import (
	"io"
	"net"
	"time"
)

// sock is a screen's connection. Without epoll the tool reads each screen
// with a goroutine of its own: it costs the tool more CPU than on Linux,
// so its figures weigh the tool's share more, but it runs everywhere.
type sock struct{ c net.Conn }

func detach(c net.Conn) (sock, error) { return sock{c}, nil }

func (s sock) close() { s.c.Close() }

type readerSys struct{}

func (r *reader) init() error { return nil }

func (r *reader) add(id int32, s *screen) error {
	r.screens[id].Store(s)
	go func() {
		buf := make([]byte, 16<<10)
		for {
			n, err := s.c.Read(buf)
			if n > 0 && r.consume(s, buf[:n], time.Now()) {
				err = io.EOF // the response ended: as closed
			}
			if err != nil {
				r.closed(s)
				return
			}
		}
	}()
	return nil
}

// loop waits for the run to end: the screens' goroutines do the reading.
func (r *reader) loop(done <-chan struct{}) { <-done }

func (r *reader) forget(*screen) {}

// raiseFileLimit is left to the Go runtime, which lifts the soft limit of
// open files where the system lets it.
func raiseFileLimit() {}
