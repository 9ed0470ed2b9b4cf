//go:build linux

package sockfd

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

func pair(t *testing.T) (client net.Conn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close() })
	return client, server
}

// detach detaches c and closes its descriptor when the test ends.
func detach(t *testing.T, c net.Conn) int {
	t.Helper()
	fd, err := Detach(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd
}

// A detached socket stays open, is non-blocking, and writes reach the peer;
// closing the descriptor ends the stream.
func TestDetach(t *testing.T) {
	client, server := pair(t)
	fd, err := Detach(server)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Fatal("the net.Conn still works after Detach; want it closed")
	}
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if e != 0 || flags&syscall.O_NONBLOCK == 0 {
		t.Fatalf("descriptor flags %#x (errno %v): want O_NONBLOCK", flags, e)
	}
	fdflags, _, _ := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if fdflags&syscall.FD_CLOEXEC == 0 {
		t.Fatal("descriptor is not close-on-exec")
	}
	if n, err := Send(fd, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	// Fill the socket: a full socket answers EAGAIN instead of blocking.
	big := bytes.Repeat([]byte("y"), 1<<20)
	var werr error
	for i := 0; i < 64 && werr == nil; i++ {
		_, werr = Send(fd, big)
	}
	if werr != syscall.EAGAIN {
		t.Fatalf("writing into a full socket: %v, want EAGAIN", werr)
	}
	if n, err := Send(fd, nil); n != 0 || err != nil {
		t.Fatalf("Send(nil) = %d, %v", n, err)
	}
	syscall.Close(fd)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("helloy")) {
		t.Fatalf("peer read %q…", got[:min(len(got), 10)])
	}
}

type noFD struct{ net.Conn }

func TestDetachWithoutDescriptor(t *testing.T) {
	_, server := pair(t)
	if _, err := Detach(noFD{server}); err == nil {
		t.Fatal("Detach of a connection without a descriptor: want an error")
	}
}

// A send to a peer that has gone is an error, not a signal that ends the
// process.
func TestSendToClosedPeer(t *testing.T) {
	client, server := pair(t)
	fd := detach(t, server)
	client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := Send(fd, []byte("x")); err != nil {
			if err != syscall.EPIPE && err != syscall.ECONNRESET {
				t.Fatalf("send to a closed peer: %v, want EPIPE or ECONNRESET", err)
			}
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("sends to a closed peer kept succeeding")
}

// Ready reports a socket with data without waiting; Recv reads it, then
// answers EAGAIN, then (0, nil) once the peer has closed.
func TestReadyRecv(t *testing.T) {
	client, server := pair(t)
	fd := detach(t, client)
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(epfd)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 7}); err != nil {
		t.Fatal(err)
	}
	events := make([]syscall.EpollEvent, 4)
	if n, err := Ready(epfd, events); n != 0 || err != nil {
		t.Fatalf("Ready before any data = %d, %v; want 0", n, err)
	}
	buf := make([]byte, 16)
	if _, err := Recv(fd, buf); err != syscall.EAGAIN {
		t.Fatalf("Recv with nothing to read: %v, want EAGAIN", err)
	}
	server.Write([]byte("ping"))
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for n == 0 && time.Now().Before(deadline) {
		n, err = Ready(epfd, events)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if n != 1 || events[0].Fd != 7 {
		t.Fatalf("Ready = %d (%+v), want the socket", n, events[:n])
	}
	if k, err := Recv(fd, buf); k != 4 || err != nil || string(buf[:4]) != "ping" {
		t.Fatalf("Recv = %d %q, %v", k, buf[:max(k, 0)], err)
	}
	server.Close()
	for time.Now().Before(deadline) {
		k, err := Recv(fd, buf)
		if k == 0 && err == nil {
			return
		}
		if err != syscall.EAGAIN {
			t.Fatalf("Recv after the peer closed = %d, %v; want 0, nil", k, err)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the peer's close never arrived")
}
