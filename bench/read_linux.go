package bench

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/wallcast/wallcast/internal/sockfd"
)

// sock is a screen's socket, out of the Go runtime's poller: the tool
// reads it with raw recv() calls when its epoll instance says so, and no
// write of the server's has to wake a goroutine.
type sock struct{ fd int }

func detach(c net.Conn) (sock, error) {
	fd, err := sockfd.Detach(c)
	return sock{fd}, err
}

func (s sock) close() { syscall.Close(s.fd) }

// readerSys is a reader's epoll instance.
type readerSys struct{ epfd int }

func (r *reader) init() error {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	r.epfd = fd
	return err
}

func (r *reader) add(id int32, s *screen) error {
	r.screens[id].Store(s)
	// Edge-triggered: a socket is reported once per arrival, not again on
	// every poll until it is read (each read empties it).
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | (syscall.EPOLLET & 0xffffffff), Fd: id}
	return syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev)
}

// pollEvery is how often a reader looks for screens with data when it
// found few the last time. Polling instead of sleeping in epoll_wait means
// no write of the server's has to wake the tool: the events arrive in
// batches, at the price of up to this much added to the measured latency.
const pollEvery = time.Millisecond

// loop reads ready screens until done is closed.
func (r *reader) loop(done <-chan struct{}) {
	defer syscall.Close(r.epfd)
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-done:
			return
		default:
		}
		n, err := sockfd.Ready(r.epfd, events)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if s := r.screens[ev.Fd].Load(); s != nil {
				r.read(s, buf)
			}
		}
		if n < len(events)/2 {
			time.Sleep(pollEvery)
		}
	}
}

// read empties a ready screen's socket.
func (r *reader) read(s *screen, buf []byte) {
	for {
		n, err := sockfd.Recv(s.fd, buf)
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n <= 0 {
			r.closed(s)
			return
		}
		if r.consume(s, buf[:n], time.Now()) {
			r.closed(s)
			return
		}
		if n < len(buf) {
			return
		}
	}
}

func (r *reader) forget(s *screen) { syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil) }

// raiseFileLimit lifts this process's open-file limit to the hard limit.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
