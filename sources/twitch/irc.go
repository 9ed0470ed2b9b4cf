package twitch

import (
	"strings"
)

// message is one IRC line as Twitch sends it: IRCv3 tags, a prefix, the
// command and its parameters (the last one may hold spaces).
type message struct {
	Tags    map[string]string
	Prefix  string // nick!user@host or a server name
	Command string
	Params  []string
}

// parseLine reads one IRC line (without its CRLF). ok is false for a line
// that has no command.
func parseLine(line string) (m message, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "@") {
		tags, rest, found := strings.Cut(line[1:], " ")
		if !found {
			return m, false
		}
		m.Tags = parseTags(tags)
		line = rest
	}
	line = strings.TrimLeft(line, " ")
	if strings.HasPrefix(line, ":") {
		prefix, rest, found := strings.Cut(line[1:], " ")
		if !found {
			return m, false
		}
		m.Prefix = prefix
		line = strings.TrimLeft(rest, " ")
	}
	for line != "" {
		if strings.HasPrefix(line, ":") {
			m.Params = append(m.Params, line[1:])
			break
		}
		word, rest, _ := strings.Cut(line, " ")
		if m.Command == "" {
			m.Command = strings.ToUpper(word)
		} else if word != "" {
			m.Params = append(m.Params, word)
		}
		line = strings.TrimLeft(rest, " ")
	}
	return m, m.Command != ""
}

// parseTags reads "k=v;k2=v2", unescaping the values as IRCv3 says.
func parseTags(s string) map[string]string {
	out := make(map[string]string, 16)
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			out[k] = unescapeTag(v)
		}
	}
	return out
}

// unescapeTag undoes IRCv3's escapes: \: is ";", \s a space, \\ a
// backslash, \r and \n; any other escaped character stands for itself and a
// lone trailing backslash is dropped.
func unescapeTag(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(v) {
			break
		}
		switch v[i] {
		case ':':
			b.WriteByte(';')
		case 's':
			b.WriteByte(' ')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// nick is the nickname of a prefix "nick!user@host".
func (m message) nick() string {
	n, _, _ := strings.Cut(m.Prefix, "!")
	return n
}

// param is the i-th parameter, or "".
func (m message) param(i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

// emote is one emote's place in a message, in code points.
type emote struct {
	ID         string
	Start, End int // inclusive
}

// parseEmotes reads the emotes tag: "25:0-4,12-16/1902:6-10".
func parseEmotes(tag string) []emote {
	var out []emote
	for _, e := range strings.Split(tag, "/") {
		id, ranges, ok := strings.Cut(e, ":")
		if !ok || id == "" {
			continue
		}
		for _, r := range strings.Split(ranges, ",") {
			a, b, ok := strings.Cut(r, "-")
			start, ok1 := atoi(a)
			end, ok2 := atoi(b)
			if ok && ok1 && ok2 && start <= end {
				out = append(out, emote{ID: id, Start: start, End: end})
			}
		}
	}
	return out
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
