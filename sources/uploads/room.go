package uploads

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// codeLetters are the letters of a room code: no 0/O, 1/I/L to confuse.
const codeLetters = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// CodeLength is how many letters a room code has.
const CodeLength = 6

// Code is a wall's room code for the window of t: the codes change every
// room_code_every, and only this install's key can tell the next one.
func Code(key []byte, slug string, every time.Duration, t time.Time) string {
	n := t.Unix() / int64(every/time.Second)
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "room:%s:%d", slug, n)
	sum := m.Sum(nil)
	var b strings.Builder
	for i := range CodeLength {
		b.WriteByte(codeLetters[int(sum[i])%len(codeLetters)])
	}
	return b.String()
}

// Code is this source's room code of a wall now ("" when the source
// takes posts without one).
func (s *Source) Code(slug string) string {
	if !*s.cfg.Settings.RoomCode {
		return ""
	}
	return Code(s.key, slug, s.cfg.Settings.RoomCodeEvery.D(), s.now())
}

// ValidCode reports whether a code is the wall's current or previous one
// (someone who scanned just before it changed may still post).
func (s *Source) ValidCode(slug, code string) bool {
	code = strings.ToUpper(strings.TrimSpace(code))
	if len(code) != CodeLength {
		return false
	}
	every, now := s.cfg.Settings.RoomCodeEvery.D(), s.now()
	ok := false
	for _, t := range []time.Time{now, now.Add(-every)} {
		ok = hmac.Equal([]byte(code), []byte(Code(s.key, slug, every, t))) || ok
	}
	return ok
}

// Every is how often the room codes change.
func (s *Source) Every() time.Duration { return s.cfg.Settings.RoomCodeEvery.D() }
