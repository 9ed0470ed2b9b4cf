package faultnet

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// server answers every connection's first byte with body, then waits for
// the client to close.
func server(t *testing.T, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Read(make([]byte, 1)); err != nil {
					return
				}
				io.WriteString(c, body)
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// read reads through a proxy until an error or the deadline.
func read(t *testing.T, f Fault, body string) (string, error) {
	t.Helper()
	p, err := Listen(server(t, body), f)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "?")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	got, err := io.ReadAll(c)
	return string(got), err
}

func TestActions(t *testing.T) {
	const body = "hello world; marker é rest"
	for _, tc := range []struct {
		name  string
		fault Fault
		want  string
		check func(error) bool
	}{
		{"healthy", Fault{}, body, func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{"cut", Fault{At: After("marker", 1, 3), Then: Cut}, "hello world; mar", func(err error) bool { return err == nil }},
		{"cut mid-UTF-8", Fault{At: After("é", 1, 1), Then: Cut}, "hello world; marker \xc3", func(err error) bool { return err == nil }},
		{"reset", Fault{At: After("marker", 1, 0), Then: Reset}, "hello world; ", func(err error) bool {
			return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
		}},
		{"freeze", Fault{At: After("world", 1, 0), Then: Freeze}, "hello ", func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{"silent", Fault{Silent: true}, "", func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{"second connection only", Fault{At: After("marker", 1, 0), Conns: 0, Then: Cut}, "hello world; ", func(err error) bool { return err == nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := read(t, tc.fault, body)
			if got != tc.want || !tc.check(err) {
				t.Errorf("read %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestConnsLimitsTheFault(t *testing.T) {
	p, err := Listen(server(t, "abcdef"), Fault{At: After("c", 1, 0), Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	for range 2 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "?")
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		b, _ := io.ReadAll(c)
		c.Close()
		got = append(got, string(b))
	}
	if got[0] != "ab" || got[1] != "abcdef" || p.Struck() != 1 || p.Conns() != 2 {
		t.Errorf("got %q, struck %d, conns %d", got, p.Struck(), p.Conns())
	}
}

func TestBandwidth(t *testing.T) {
	body := string(make([]byte, 2000))
	start := time.Now()
	p, err := Listen(server(t, body), Fault{Bandwidth: 10000})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "?")
	if _, err := io.ReadFull(c, make([]byte, len(body))); err != nil {
		t.Fatal(err)
	}
	// 2000 bytes at 10000 B/s take at least 200 ms.
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("2000 bytes at 10 kB/s arrived in %v", d)
	}
}

func TestInChunkSize(t *testing.T) {
	answer := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"
	if i := InChunkSize(2)([]byte(answer)); answer[:i] != "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1" {
		t.Errorf("struck at %d: %q", i, answer[:i])
	}
	if i := InChunkSize(1)([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")); i != -1 {
		t.Errorf("struck a Content-Length answer at %d", i)
	}
}

func TestFailingDNS(t *testing.T) {
	addr := server(t, "x")
	dial := FailingDNS(addr, 1)
	_, err := dial(context.Background(), "tcp", "upstream.example:443")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || dnsErr.Name != "upstream.example" {
		t.Fatalf("first dial: %v", err)
	}
	c, err := dial(context.Background(), "tcp", "upstream.example:443")
	if err != nil {
		t.Fatalf("second dial: %v", err)
	}
	c.Close()
}
