//go:build linux

// Package sockfd takes a TCP connection out of the Go runtime's network
// poller, for code that watches many idle sockets with an epoll instance
// of its own (the fan-out engine, the load tool). A socket left in the
// runtime's poller as well costs a second readiness notification, and on
// the reading side a second wakeup, for every byte that arrives.
package sockfd

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// Detach returns a file descriptor of its own for c's socket (non-blocking
// and close-on-exec, like the connection's) and closes c, which takes the
// socket out of the runtime's poller without shutting it down. The caller
// owns the descriptor and must close it. On error c is closed too, except
// when the process has no descriptor left for the copy (EMFILE, ENFILE):
// then c stays open, for the caller to make room and try again.
func Detach(c net.Conn) (fd int, err error) {
	defer func() {
		if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
			c.Close()
		}
	}()
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("sockfd: the connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var dup uintptr
	var errno syscall.Errno
	if err := raw.Control(func(s uintptr) {
		dup, _, errno = syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if errno != 0 {
		return -1, errno
	}
	return int(dup), nil
}

// Send is one non-blocking send(2) of b to the socket fd, retried only on
// EINTR: a full socket gives EAGAIN, a closed peer EPIPE (never SIGPIPE).
// It is a raw system call, without the runtime's bookkeeping for calls that
// may block, which this one never does: for writers that make a hundred
// thousand of them a second.
func Send(fd int, b []byte) (int, error) {
	return transfer(syscall.SYS_SENDTO, fd, b, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
}

// Recv is one non-blocking recv(2) into b, retried only on EINTR: nothing to
// read gives EAGAIN, an orderly close by the peer (0, nil). Like Send, a raw
// system call.
func Recv(fd int, b []byte) (int, error) {
	return transfer(syscall.SYS_RECVFROM, fd, b, syscall.MSG_DONTWAIT)
}

// transfer makes the sendto or recvfrom system call trap on b, with no
// address.
func transfer(trap uintptr, fd int, b []byte, flags uintptr) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), flags, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// Ready fills events with what the epoll instance epfd has ready now,
// without waiting.
func Ready(epfd int, events []syscall.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
