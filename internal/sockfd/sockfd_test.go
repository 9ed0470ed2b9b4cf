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
	fd, err := Detach(server)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
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
