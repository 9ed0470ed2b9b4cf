package sse

import (
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	in := "retry: 2500\r\n: comment\r\n\r\nid: 1\nevent: post\ndata: a\ndata: b\n\n" +
		"data: no type\r\rid: 2\rdata:x\r\r" + "id\ndata: cleared id\n\n" + "event: empty\n\n" + "data: trailing"
	r := NewReader(strings.NewReader(in))
	want := []Event{
		{ID: "1", Type: "post", Data: "a\nb", Retry: 2500},
		{ID: "1", Type: "message", Data: "no type", Retry: 2500},
		{ID: "2", Type: "message", Data: "x", Retry: 2500},
		{ID: "", Type: "message", Data: "cleared id", Retry: 2500},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil || got != w {
			t.Fatalf("event %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := r.Next(); err != io.ErrUnexpectedEOF {
		t.Errorf("unterminated tail: %v", err)
	}
	if r.Comments() != 1 {
		t.Errorf("comments = %d", r.Comments())
	}
}

// TestBounds: a line without an end, or an event of endless data lines,
// is cut off at the reader's bounds.
func TestBounds(t *testing.T) {
	r := NewReader(io.MultiReader(strings.NewReader("data: "), strings.NewReader(strings.Repeat("x", DefaultMaxLine+10))))
	if _, err := r.Next(); err != ErrLineTooLong {
		t.Errorf("a 1 MiB line: %v, want ErrLineTooLong", err)
	}
	line := "data: " + strings.Repeat("y", 1000) + "\n"
	r = NewReader(strings.NewReader(strings.Repeat(line, DefaultMaxEvent/1000+10) + "\n"))
	if _, err := r.Next(); err != ErrEventTooLarge {
		t.Errorf("a 4 MiB event: %v, want ErrEventTooLarge", err)
	}
	r = NewReader(strings.NewReader(strings.Repeat(line, 100) + "\n"))
	if ev, err := r.Next(); err != nil || len(ev.Data) != 100*1000+99 {
		t.Errorf("an event under the bounds: %d bytes, %v", len(ev.Data), err)
	}
}

// TestIDOnlyWithData: a bare id block sets a browser's last event ID, but
// not that of a parser that takes ids only with data.
func TestIDOnlyWithData(t *testing.T) {
	in := "id: 1\nevent: post\ndata: a\n\nid: 7\n\nevent: post\ndata: b\n\n"
	for _, c := range []struct {
		dataOnly      bool
		second, after string
	}{{false, "7", "7"}, {true, "1", "1"}} {
		r := NewReader(strings.NewReader(in))
		r.IDOnlyWithData = c.dataOnly
		r.Next()
		ev, err := r.Next()
		if err != nil || ev.ID != c.second || r.LastEventID() != c.after {
			t.Errorf("IDOnlyWithData=%v: second event id %q, last %q, %v; want %q", c.dataOnly, ev.ID, r.LastEventID(), err, c.second)
		}
	}
}
