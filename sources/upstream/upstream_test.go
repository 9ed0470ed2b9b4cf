package upstream

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"Wed, 25 Nov 2026 12:01:30 GMT", 90 * time.Second, true},
		{"Wed, 25 Nov 2026 11:00:00 GMT", 0, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestCheckResponse(t *testing.T) {
	resp := func(code int, h ...string) *http.Response {
		r := &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("body text"))}
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	if err := CheckResponse(resp(200)); err != nil {
		t.Errorf("200: %v", err)
	}
	var ra *RetryAfterError
	if err := CheckResponse(resp(429, "Retry-After", "7")); !errors.As(err, &ra) || ra.After != 7*time.Second {
		t.Errorf("429: %v", err)
	}
	if err := CheckResponse(resp(429)); !errors.As(err, &ra) || ra.After != time.Minute {
		t.Errorf("429 without Retry-After: %v", err)
	}
	var pe *PermanentError
	if err := CheckResponse(resp(401)); !errors.As(err, &pe) || !strings.Contains(err.Error(), "body text") {
		t.Errorf("401: %v", err)
	}
	var se *StatusError
	if err := CheckResponse(resp(502)); !errors.As(err, &se) || se.Code != 502 || errors.As(err, &pe) {
		t.Errorf("502: %v", err)
	}
}

func TestReadBodyBound(t *testing.T) {
	if _, err := ReadBody(io.LimitReader(zeros{}, MaxBody+1)); err != ErrTooLarge {
		t.Errorf("a document past 16 MiB: %v, want ErrTooLarge", err)
	}
	if b, err := ReadBody(io.LimitReader(zeros{}, 1000)); err != nil || len(b) != 1000 {
		t.Errorf("a small document: %d, %v", len(b), err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestRecentForgetsTheOldest(t *testing.T) {
	r := NewRecent(2)
	r.Add("a")
	r.Add("b")
	r.Add("b") // no second place for a repeat
	if !r.Has("a") || !r.Has("b") || r.Has("c") {
		t.Fatalf("has a=%v b=%v c=%v", r.Has("a"), r.Has("b"), r.Has("c"))
	}
	r.Add("c")
	if r.Has("a") || !r.Has("b") || !r.Has("c") {
		t.Errorf("after c: has a=%v b=%v c=%v", r.Has("a"), r.Has("b"), r.Has("c"))
	}
}
