package fanout

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return server, client
}

// postFrame is the frame of post event seq.
func postFrame(seq int64) Frame {
	return Frame{Seq: seq, Bytes: Encode(wall.Event{Seq: seq, Type: wall.EventPost, Data: []byte(`{}`)})}
}

// engineScreen starts an engine with a write timeout and one screen on wall
// "w", adopted at the ring's head; it returns the screen's end.
func engineScreen(t *testing.T, timeout time.Duration) (*Engine, net.Conn) {
	t.Helper()
	e := newEngine(timeout)
	if e == nil {
		t.Skip("no epoll")
	}
	t.Cleanup(e.close)
	server, client := tcpPair(t)
	if err := e.Adopt(server, "w", e.Head("w"), 0, nil); err != nil {
		t.Fatal(err)
	}
	return e, client
}

// TestEngineSkipsWhatTheCatchUpSent: frames published between the ring
// position a screen starts from and the end of its catch-up are in the
// ring and in the catch-up; the engine writes only those the catch-up did
// not, then what follows, coalesced.
func TestEngineSkipsWhatTheCatchUpSent(t *testing.T) {
	e := newEngine(time.Second)
	if e == nil {
		t.Skip("no epoll")
	}
	defer e.close()
	pos := e.Head("w")
	frame := postFrame
	// Committed during the catch-up: 1 and 2 were in it, 3 was not.
	e.publish("w", []Frame{frame(1), pingFrame, frame(2), frame(3)})
	server, client := tcpPair(t)
	if err := e.Adopt(server, "w", pos, 2, nil); err != nil {
		t.Fatal(err)
	}
	e.publish("w", []Frame{frame(4)})
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(client)
	var ids []string
	for len(ids) < 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %v: %v", ids, err)
		}
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "id: "); ok {
			ids = append(ids, id)
		}
	}
	if strings.Join(ids, ",") != "3,4" {
		t.Errorf("ids = %v, want 3,4 (1 and 2 came with the catch-up)", ids)
	}
}

// TestEngineLeavesOutHeartbeatsOfBusyStreams: a heartbeat after data is
// left out (the stream is not idle), the next one goes out, and frames
// keep their order.
func TestEngineLeavesOutHeartbeatsOfBusyStreams(t *testing.T) {
	e, client := engineScreen(t, time.Second)
	post := postFrame
	e.publish("w", []Frame{pingFrame}) // idle so far: sent
	e.publish("w", []Frame{post(1)})
	e.publish("w", []Frame{pingFrame}) // data since the last one: left out
	e.publish("w", []Frame{pingFrame}) // idle since: sent
	e.publish("w", []Frame{post(2)})
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(client)
	var got []string
	for len(got) == 0 || got[len(got)-1] != "2" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		line = strings.TrimSpace(line)
		if line == ": ping" {
			got = append(got, "ping")
		} else if id, ok := strings.CutPrefix(line, "id: "); ok {
			got = append(got, id)
		}
	}
	if strings.Join(got, ",") != "ping,1,ping,2" {
		t.Errorf("stream = %v, want ping,1,ping,2", got)
	}
}

// TestEngineClosesAScreenFallenOffTheRing: a screen whose socket is full
// while more than a ring of frames goes by is closed once it can take data
// again (it resumes from its Last-Event-ID), instead of getting a stream
// with a hole in it.
func TestEngineClosesAScreenFallenOffTheRing(t *testing.T) {
	e, client := engineScreen(t, time.Hour) // the write-timeout rule must not be what closes it
	e.mu.Lock()
	var c *econn
	for _, c = range e.conns {
	}
	e.mu.Unlock()
	big := Frame{Seq: 1, Bytes: Encode(wall.Event{Seq: 1, Type: wall.EventPost, Data: []byte(`"` + strings.Repeat("x", 64<<10) + `"`)})}
	deadline := time.Now().Add(10 * time.Second)
	for c.blockedAt.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the socket never filled up")
		}
		e.publish("w", []Frame{big})
		time.Sleep(time.Millisecond)
	}
	frames := make([]Frame, ringSize+1)
	for i := range frames {
		frames[i] = postFrame(int64(i + 2))
	}
	e.publish("w", frames)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("the stream did not end: %v", err)
	}
	if bytes.Contains(got, []byte(fmt.Sprintf("id: %d\n", ringSize+2))) {
		t.Error("the screen got the last frame: it was never behind by more than the ring")
	}
	for e.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", e.Open())
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkEngineBroadcast: one 600-byte event published until every screen
// on loopback TCP has read it, through the engine (the path of HTTP/1.1
// screens). The screens' reads, on the same cores, are part of the figure.
func BenchmarkEngineBroadcast(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprint(n, "-screens"), func(b *testing.B) {
			e := newEngine(10 * time.Second)
			if e == nil {
				b.Skip("no epoll")
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			// The server's ends close first, so the closed connections wait
			// out TIME_WAIT there and not on the clients' ephemeral ports.
			var clients []net.Conn
			defer func() {
				e.close()
				for _, c := range clients {
					c.Close()
				}
			}()
			var got sync.WaitGroup
			for i := 0; i < n; i++ {
				client, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				clients = append(clients, client)
				server, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Adopt(server, "w", e.Head("w"), 0, nil); err != nil {
					b.Fatal(err)
				}
				go func() {
					br := bufio.NewReader(client)
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if bytes.HasPrefix(line, []byte("id: ")) {
							got.Done()
						}
					}
				}()
			}
			data := []byte(`"` + strings.Repeat("x", 600) + `"`)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got.Add(n)
				seq := int64(i + 1)
				e.publish("w", []Frame{{Seq: seq, Bytes: Encode(wall.Event{Seq: seq, Type: wall.EventPost, Data: data})}})
				got.Wait()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/screen")
		})
	}
}

// TestEngineCallsDoneOnClose: the callback given with a connection runs
// once when the engine closes it (here, the peer hung up).
func TestEngineCallsDoneOnClose(t *testing.T) {
	e := newEngine(time.Second)
	if e == nil {
		t.Skip("no epoll")
	}
	defer e.close()
	server, client := tcpPair(t)
	done := make(chan struct{}, 2)
	if err := e.Adopt(server, "w", e.Head("w"), 0, func() { done <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("done never called after the peer hung up")
	}
	e.close()
	select {
	case <-done:
		t.Error("done called twice")
	default:
	}
}

// TestEngineSendsABurstWhole: a commit of many events at once (a batch of
// a firehose's webhook) reaches a screen that keeps up at once, not 64
// frames per second on the writers' tick: a writer comes back for a
// screen it left behind.
func TestEngineSendsABurstWhole(t *testing.T) {
	e, client := engineScreen(t, time.Minute)
	const n = 1000
	burst := make([]Frame, n)
	for i := range burst {
		burst[i] = postFrame(int64(i + 1))
	}
	e.publish("w", burst)
	// The old writers needed n/64 ticks of a second: 15 s.
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(client)
	for got := 0; got < n; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d of %d posts: %v", got, n, err)
		}
		if strings.HasPrefix(line, "id: ") {
			got++
		}
	}
}
