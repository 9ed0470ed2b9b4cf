package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAutoSources(t *testing.T) {
	tests := []struct {
		host    string
		n, per  int
		want    string // addresses joined by ","; "" + err for an error
		wantErr bool
	}{
		{host: "127.0.0.1", n: 1000, per: 20000, want: "127.0.0.1"},
		{host: "localhost", n: 20000, per: 20000, want: "127.0.0.1"},
		{host: "127.0.0.1", n: 20001, per: 20000, want: "127.0.0.1,127.0.0.2"},
		{host: "127.0.0.5", n: 45000, per: 20000, want: "127.0.0.1,127.0.0.2,127.0.0.3"},
		{host: "127.0.0.1", n: 600, per: 1},
		{host: "10.0.0.7", n: 5000, per: 20000, want: ""},
		{host: "wall.example.org", n: 5000, per: 20000, want: ""},
		{host: "10.0.0.7", n: 50000, per: 20000, wantErr: true},
		{host: "::1", n: 50000, per: 20000, wantErr: true},
		{host: "127.0.0.1", n: 1 << 20, per: 1, wantErr: true},
	}
	for _, tc := range tests {
		got, err := AutoSources(tc.host, tc.n, tc.per)
		if tc.wantErr {
			if err == nil {
				t.Errorf("AutoSources(%s, %d, %d) = %v, want an error", tc.host, tc.n, tc.per, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("AutoSources(%s, %d, %d): %v", tc.host, tc.n, tc.per, err)
			continue
		}
		if tc.n == 600 {
			// 600 addresses: the 255th is the first of 127.0.1.x, never a .0 or .255.
			if len(got) != 600 || got[253] != "127.0.0.254" || got[254] != "127.0.1.1" {
				t.Errorf("600 addresses: len %d, [253] %s, [254] %s", len(got), got[253], got[254])
			}
			continue
		}
		if s := strings.Join(got, ","); s != tc.want {
			t.Errorf("AutoSources(%s, %d, %d) = %q, want %q", tc.host, tc.n, tc.per, s, tc.want)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	p50, p90, p99, mx := h.quantiles()
	near := func(got, want time.Duration) bool { return got >= want && got-want <= 200*time.Microsecond }
	if !near(p50, 501*time.Millisecond) || !near(p90, 901*time.Millisecond) || !near(p99, 991*time.Millisecond) || mx != time.Second {
		t.Errorf("quantiles = %v %v %v %v", p50, p90, p99, mx)
	}
	o := newHistogram()
	o.add(5 * time.Second)
	h.merge(o)
	if _, _, _, mx := h.quantiles(); mx != 5*time.Second || h.N != 1001 {
		t.Errorf("merged: max %v, n %d", mx, h.N)
	}
	for _, d := range []time.Duration{0, 9 * time.Microsecond, 10 * time.Millisecond, 999 * time.Millisecond, time.Second, 59 * time.Second, time.Hour} {
		if b := bucketOf(d); upper(b) < d && d < time.Minute {
			t.Errorf("%v in bucket %d whose upper edge is %v", d, b, upper(b))
		}
	}
}

// TestConsumeChunked: through nginx a stream is chunked, and an edge that
// dies ends it with the last chunk, the socket staying open: the screen
// reads its events without the framing, however the bytes are cut, and
// sees the end (as EventSource does, and reconnects).
func TestConsumeChunked(t *testing.T) {
	chunk := func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }
	// The id line is cut between two chunks, as a proxy's reads cut it.
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
		chunk("retry: 3000\n\nid") + chunk(": 7\nevent: post\ndata: {\"a\":1}\n\n") + "0\r\n\r\n"
	for _, cut := range []int{1, 3, 7, len(resp)} {
		r := &reader{ready: make(chan error, 1), prefix: []byte("never"), reconnect: func(*screen) {}}
		s := &screen{}
		ended := false
		for i := 0; i < len(resp) && !ended; i += cut {
			if ended = r.consume(s, []byte(resp[i:min(i+cut, len(resp))]), time.Now()); ended && i+cut < len(resp)-5 {
				t.Errorf("cut %d: ended at byte %d, before the last chunk", cut, i+cut)
			}
		}
		if !ended || s.chunk == nil || !s.ready || string(s.lastID) != "7" || len(s.partial) != 0 {
			t.Errorf("cut %d: ended %v, chunked %v, ready %v, last id %q, unfinished %q", cut, ended, s.chunk != nil, s.ready, s.lastID, s.partial)
		}
	}
}
