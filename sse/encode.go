package sse

import (
	"bytes"
	"net/http"
	"strconv"
)

// SetHeaders sets the headers of an event stream: its type, no caching,
// and no buffering by a proxy on the way (nginx honours X-Accel-Buffering).
// Every stream Wallcast serves starts with them.
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// Encode writes one event in the text/event-stream format: an id line
// when id > 0, the event type, the data. The data is split on every line
// ending and the type loses CR, LF and NUL, so nothing in them can start
// a field of its own.
func Encode(id int64, typ string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(typ)+40)
	if id > 0 {
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	for i := 0; i < len(typ); i++ {
		if c := typ[i]; c != '\r' && c != '\n' && c != 0 {
			b = append(b, c)
		}
	}
	b = append(b, '\n')
	b = appendData(b, data)
	return append(b, '\n')
}

func appendData(b, data []byte) []byte {
	if !bytes.ContainsAny(data, "\r\n") {
		b = append(b, "data: "...)
		b = append(b, data...)
		return append(b, '\n')
	}
	for len(data) > 0 {
		i := bytes.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return b
}
