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
