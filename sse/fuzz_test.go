package sse

import (
	"bytes"
	"io"
	"strconv"
	"testing"
)

// FuzzReader: any bytes give events or an error, never a panic; no event
// is larger than the bound and no id holds a NUL.
func FuzzReader(f *testing.F) {
	f.Add([]byte("retry: 2500\r\n: c\r\n\r\nid: 1\nevent: post\ndata: a\ndata: b\n\n"))
	f.Add([]byte("data: no type\r\rid: 2\rdata:x\r\r"))
	f.Add([]byte("id\x00x\ndata\n\n:\n\nevent\n\ndata: trailing"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, dataOnly := range []bool{false, true} {
			r := NewReader(bytes.NewReader(in))
			r.MaxLine, r.MaxEvent, r.IDOnlyWithData = 1<<10, 4<<10, dataOnly
			for i := 0; i <= len(in); i++ {
				ev, err := r.Next()
				if err != nil {
					if err != io.EOF && err != io.ErrUnexpectedEOF && err != ErrLineTooLong && err != ErrEventTooLarge {
						t.Fatalf("unexpected error %v", err)
					}
					break
				}
				if len(ev.Data) > r.MaxEvent || bytes.IndexByte([]byte(ev.ID), 0) >= 0 || ev.Type == "" {
					t.Fatalf("event %+v", ev)
				}
			}
		}
	})
}

// FuzzEncodeRoundTrip: what Encode writes reads back as the same event,
// whatever the data holds (line endings cannot start a field of their own).
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(int64(7), "post", []byte(`{"id":"a"}`))
	f.Add(int64(1), "x\nevent: pin", []byte("a\r\nid: 9\rdata: forged"))
	f.Fuzz(func(t *testing.T, id int64, typ string, data []byte) {
		if id < 1 || typ == "" || bytes.ContainsAny([]byte(typ), "\r\n\x00") {
			return
		}
		ev, err := NewReader(bytes.NewReader(Encode(id, typ, data))).Next()
		if err != nil {
			t.Fatal(err)
		}
		// Line endings in the data come back as LF; a last one is eaten.
		norm := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		if ev.Type != typ || ev.ID != strconv.FormatInt(id, 10) || ev.Data != string(bytes.TrimSuffix(norm, []byte("\n"))) {
			t.Fatalf("got %+v from %q", ev, data)
		}
	})
}
