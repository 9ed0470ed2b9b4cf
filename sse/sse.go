// Package sse reads text/event-stream as the HTML Standard's EventSource
// parser does: lines end in CRLF, LF or CR; a line starting with ':' is a
// comment; "data" lines join with LF; "id" persists across events; an event
// is dispatched on a blank line, and only when it carries data.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Default bounds of what one stream may make the reader hold: an upstream
// that sends hundreds of megabytes without a line end, or an event of
// endless data lines, is cut off instead of growing memory.
const (
	DefaultMaxLine  = 1 << 20
	DefaultMaxEvent = 4 << 20
)

// Errors for a stream that crosses a bound.
var (
	ErrLineTooLong   = errors.New("sse: line longer than the limit")
	ErrEventTooLarge = errors.New("sse: event larger than the limit")
)

// Event is one dispatched event.
type Event struct {
	ID    string // the last event ID after this event (it persists)
	Type  string // "message" when the stream named none
	Data  string
	Retry int // the last retry the stream set, in ms (0 if none)
}

// Reader parses a stream.
type Reader struct {
	br       *bufio.Reader
	lastID   string
	idBuf    string // the last event ID buffer: an id line sets it
	retry    int
	comments int
	// OnComment, if set, is called for every comment line (heartbeats).
	OnComment func(text string)
	// MaxLine and MaxEvent bound a line and an event's data, in bytes;
	// past them Next returns ErrLineTooLong or ErrEventTooLarge.
	MaxLine, MaxEvent int
	// IDOnlyWithData makes the reader behave like some widely used client
	// parsers (eventsource-parser, behind the most used Node EventSource):
	// the last event ID changes only when an event with data is
	// dispatched, not on an id line followed by a blank line, as the
	// standard (and every browser) has it. Tests use it to check that a
	// stream's resume points survive such clients.
	IDOnlyWithData bool
}

// NewReader returns a parser reading r, with the default bounds.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), MaxLine: DefaultMaxLine, MaxEvent: DefaultMaxEvent}
}

// LastEventID is the id to send as Last-Event-ID when reconnecting.
func (r *Reader) LastEventID() string { return r.lastID }

// Retry is the reconnection time the server asked for, in ms.
func (r *Reader) Retry() int { return r.retry }

// Comments is the number of comment lines read so far.
func (r *Reader) Comments() int { return r.comments }

// readLine returns one line without its terminator (CRLF, LF or CR).
func (r *Reader) readLine() (string, error) {
	var buf bytes.Buffer
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			if buf.Len() > 0 && err == io.EOF {
				// An unterminated last line is discarded by the standard.
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch b {
		case '\n':
			return buf.String(), nil
		case '\r':
			if nb, err := r.br.Peek(1); err == nil && nb[0] == '\n' {
				r.br.ReadByte()
			}
			return buf.String(), nil
		default:
			if buf.Len() >= r.MaxLine {
				return "", ErrLineTooLong
			}
			buf.WriteByte(b)
		}
	}
}

// Next returns the next dispatched event.
func (r *Reader) Next() (Event, error) {
	var (
		data    strings.Builder
		hasData bool
		typ     string
		blockID = r.lastID // with IDOnlyWithData: this block's id, if any
	)
	for {
		line, err := r.readLine()
		if err != nil {
			return Event{}, err
		}
		if line == "" {
			// The standard sets the last event ID at every blank line,
			// before it looks whether there is data to dispatch; those
			// parsers take a block's id only with its data.
			switch {
			case !r.IDOnlyWithData:
				r.lastID = r.idBuf
			case hasData:
				r.lastID = blockID
			}
			if !hasData {
				typ = ""
				blockID = r.lastID
				continue
			}
			if typ == "" {
				typ = "message"
			}
			return Event{ID: r.lastID, Type: typ, Data: data.String(), Retry: r.retry}, nil
		}
		if line[0] == ':' {
			r.comments++
			if r.OnComment != nil {
				r.OnComment(strings.TrimPrefix(line[1:], " "))
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > r.MaxEvent {
				return Event{}, ErrEventTooLarge
			}
			data.WriteString(value)
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				r.idBuf, blockID = value, value
			}
		case "retry":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 && strings.Trim(value, "0123456789") == "" {
				r.retry = n
			}
		}
	}
}
