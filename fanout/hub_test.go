package fanout

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wallcast/wallcast/sse"
	"github.com/wallcast/wallcast/wall"
)

func TestEncodeCannotBeForged(t *testing.T) {
	cases := []struct {
		e    wall.Event
		want string
	}{
		{wall.Event{Seq: 7, Type: "post", Data: []byte(`{"a":1}`)}, "id: 7\nevent: post\ndata: {\"a\":1}\n\n"},
		{wall.Event{Type: "reset", Data: []byte(`{}`)}, "event: reset\ndata: {}\n\n"},
		{wall.Event{Seq: 1, Type: "post", Data: []byte("a\r\nid: 999\rdata: x\nevent: evil")},
			"id: 1\nevent: post\ndata: a\ndata: id: 999\ndata: data: x\ndata: event: evil\n\n"},
		{wall.Event{Seq: 2, Type: "po\nst", Data: []byte("x")}, "id: 2\nevent: post\ndata: x\n\n"},
	}
	for _, c := range cases {
		got := string(Encode(c.e))
		if got != c.want {
			t.Errorf("Encode(%+v)\n got %q\nwant %q", c.e, got, c.want)
		}
		ev, err := sse.NewReader(strings.NewReader(got)).Next()
		if err != nil || ev.Data != strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(c.e.Data)) {
			t.Errorf("parsed back: %+v %v", ev, err)
		}
	}
}

func TestPublishOnlyToItsWallAndDropsSlow(t *testing.T) {
	h := NewHub(2, 0)
	a, b := h.Subscribe("a"), h.Subscribe("b")
	h.Publish([]wall.Event{{Seq: 1, Wall: "a", Type: "post", Data: []byte("1")}, {Seq: 2, Wall: "b", Type: "post", Data: []byte("2")}})
	if f := <-a.C; f.Seq != 1 {
		t.Errorf("a got %d", f.Seq)
	}
	if f := <-b.C; f.Seq != 2 {
		t.Errorf("b got %d", f.Seq)
	}
	// Moderation queue events never reach displays.
	h.Publish([]wall.Event{{Seq: 3, Wall: "a", Type: wall.EventPending, Data: []byte("{}")}})
	if len(a.C) != 0 {
		t.Error("a pending event reached a display")
	}
	for i := 4; i < 8; i++ {
		h.Publish([]wall.Event{{Seq: int64(i), Wall: "a", Type: "post", Data: []byte("x")}})
	}
	<-a.Done()
	if !a.Slow() || h.Subscribers() != 1 {
		t.Errorf("slow=%v subscribers=%d", a.Slow(), h.Subscribers())
	}
	h.Close()
	<-b.Done()
	if h.Subscribe("a") != nil {
		t.Error("subscribed to a closed hub")
	}
}

// TestJoinLeaveDuringBroadcast is a -race stress test: subscribers come and
// go while events are published.
func TestJoinLeaveDuringBroadcast(t *testing.T) {
	h := NewHub(64, 0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := h.Subscribe("w")
				for i := 0; i < 3; i++ {
					select {
					case <-s.C:
					case <-s.Done():
					default:
					}
				}
				h.Unsubscribe(s)
			}
		}()
	}
	for i := 1; i <= 2000; i++ {
		h.Publish([]wall.Event{{Seq: int64(i), Wall: "w", Type: "post", Data: []byte(`{}`)}})
	}
	close(stop)
	wg.Wait()
	if n := h.Subscribers(); n != 0 {
		t.Errorf("subscribers left: %d", n)
	}
}

func BenchmarkEncode(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 600)
	for i := 0; i < b.N; i++ {
		Encode(wall.Event{Seq: int64(i), Type: "post", Data: data})
	}
}

// BenchmarkFanout measures one event reaching every subscriber's queue and
// being taken off it by the subscriber's goroutine: the time until all
// have it.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n, "-subscribers"), func(b *testing.B) {
			h := NewHub(16, 0)
			var got sync.WaitGroup
			for i := 0; i < n; i++ {
				s := h.Subscribe("w")
				go func() {
					for {
						select {
						case <-s.C:
							got.Done()
						case <-s.Done():
							return
						}
					}
				}()
			}
			data := bytes.Repeat([]byte("x"), 600)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got.Add(n)
				h.Publish([]wall.Event{{Seq: int64(i + 1), Wall: "w", Type: "post", Data: data}})
				got.Wait()
			}
			b.StopTimer()
			h.Close()
		})
	}
}
