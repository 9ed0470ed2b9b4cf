// Package twitch is the source for Twitch chat. It joins channels over
// Twitch's IRC-over-WebSocket interface (anonymously as justinfanNNNN, or
// as a user with an OAuth token), asks for the tags and commands
// capabilities, and turns chat messages into posts, emotes into images,
// /me into an action; a moderator's deleted message (CLEARMSG), a user's
// ban or timeout, or a cleared chat (CLEARCHAT) leave the wall too. Chat
// has no history: what is said while the source is away is never seen,
// and its health says when that was.
package twitch

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// DefaultServer is Twitch's chat over WebSocket.
const DefaultServer = "wss://irc-ws.chat.twitch.tv:443"

// Config is a twitch source's settings.
type Config struct {
	Name       string
	Channels   []string // lower case, without '#'
	Username   string   // "": anonymous, read only
	OAuthToken string   // with or without its "oauth:" prefix
	Server     string
	UserAgent  string
	// Ping is how often the source checks the link with a PING of its
	// own (Twitch pings only every five minutes or so).
	Ping time.Duration
	// EmoteCDN is the base of emote images.
	EmoteCDN string
}

// Source reads the chat of some channels.
type Source struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu       sync.Mutex
	lostAt   time.Time // when the last connection ended (zero: none yet)
	lastAway string    // the note on the last stretch missed
	recent   *upstream.Recent
}

// New returns a twitch source.
func New(cfg Config, client *http.Client, log *slog.Logger) *Source {
	if client == nil {
		client = upstream.NewClient()
	}
	if cfg.Server == "" {
		cfg.Server = DefaultServer
	}
	if cfg.Ping <= 0 {
		cfg.Ping = 30 * time.Second
	}
	if cfg.EmoteCDN == "" {
		cfg.EmoteCDN = "https://static-cdn.jtvnw.net"
	}
	cfg.EmoteCDN = strings.TrimRight(cfg.EmoteCDN, "/")
	for i, c := range cfg.Channels {
		cfg.Channels[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(c), "#"))
	}
	return &Source{cfg: cfg, client: client, log: log.With("source", cfg.Name), recent: upstream.NewRecent(4096)}
}

// errReconnect is Twitch asking the client to reconnect (a server going
// down for maintenance).
var errReconnect = errors.New("the server asked to reconnect")

// Run joins the channels and reads their chat until ctx ends or the link
// fails.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	if len(s.cfg.Channels) == 0 {
		return upstream.Permanent(fmt.Errorf("twitch %s: no channels to join", s.cfg.Name))
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, _, err := websocket.Dial(dctx, s.cfg.Server, &websocket.DialOptions{
		HTTPClient: s.client,
		HTTPHeader: http.Header{"User-Agent": {s.cfg.UserAgent}},
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("twitch %s: connect: %w", s.cfg.Name, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	heard := time.Now() // the last sign of life: the stretch missed starts there
	defer func() { s.lost(heard) }()
	defer upstream.Arm(ctx)()

	nick := s.cfg.Username
	var lines []string
	lines = append(lines, "CAP REQ :twitch.tv/tags twitch.tv/commands")
	if nick != "" {
		lines = append(lines, "PASS oauth:"+strings.TrimPrefix(s.cfg.OAuthToken, "oauth:"))
	} else {
		nick = fmt.Sprintf("justinfan%d", 10000+rand.IntN(89999))
	}
	lines = append(lines, "NICK "+strings.ToLower(nick))
	joins := make([]string, len(s.cfg.Channels))
	for i, c := range s.cfg.Channels {
		joins[i] = "#" + c
	}
	lines = append(lines, "JOIN "+strings.Join(joins, ","))
	for _, l := range lines {
		if err := s.send(ctx, conn, l); err != nil {
			return err
		}
	}

	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go s.ping(ctx, conn, stop)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("twitch %s: read: %w", s.cfg.Name, err)
		}
		upstream.Alive(ctx)
		heard = time.Now()
		// One WebSocket message may hold several lines.
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			m, ok := parseLine(line)
			if !ok {
				s.log.Warn("twitch: malformed line skipped", "bytes", len(line))
				continue
			}
			if err := s.handle(ctx, conn, m, emit); err != nil {
				return err
			}
		}
	}
}

func (s *Source) send(ctx context.Context, conn *websocket.Conn, line string) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, []byte(line+"\r\n")); err != nil {
		return fmt.Errorf("twitch %s: write: %w", s.cfg.Name, err)
	}
	return nil
}

// ping sends a PING of its own now and then; the PONG counts as a sign
// of life, so a quiet chat is not taken for a dead link.
func (s *Source) ping(ctx context.Context, conn *websocket.Conn, stop context.CancelCauseFunc) {
	t := time.NewTicker(s.cfg.Ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.send(ctx, conn, "PING :wallcast"); err != nil {
				stop(err)
				return
			}
		}
	}
}

// lost records when a connection was last heard from: the chat said from
// then until the next one joins is never seen.
func (s *Source) lost(at time.Time) {
	s.mu.Lock()
	s.lostAt = at
	s.mu.Unlock()
}

// joined sets the health note once the server welcomed the source.
func (s *Source) joined(ctx context.Context) {
	s.mu.Lock()
	if !s.lostAt.IsZero() {
		now := time.Now()
		s.lastAway = fmt.Sprintf("chat from %s to %s UTC (%s) was not seen: Twitch keeps no history",
			s.lostAt.UTC().Format("15:04:05"), now.UTC().Format("15:04:05"), now.Sub(s.lostAt).Round(100*time.Millisecond))
		s.lostAt = time.Time{}
	}
	note := []string{"live only: chat has no history"}
	if s.lastAway != "" {
		note = []string{s.lastAway}
	}
	s.mu.Unlock()
	upstream.SetState(ctx, wall.StateConnected, note...)
	s.log.Info("twitch: joined", "channels", s.cfg.Channels)
}

// handle acts on one line.
func (s *Source) handle(ctx context.Context, conn *websocket.Conn, m message, emit wall.Emit) error {
	switch m.Command {
	case "PING":
		return s.send(ctx, conn, "PONG :"+m.param(0))
	case "001":
		s.joined(ctx)
	case "RECONNECT":
		return upstream.RetryExactly(fmt.Errorf("twitch %s: %w", s.cfg.Name, errReconnect), 0)
	case "NOTICE":
		text := m.param(1)
		if m.param(0) == "*" && (strings.Contains(text, "authentication failed") || strings.Contains(text, "Improperly formatted auth")) {
			return upstream.Permanent(fmt.Errorf("twitch %s: %s: check username and oauth_token (a user access token with the chat:read scope)", s.cfg.Name, text))
		}
		s.log.Info("twitch: notice", "channel", m.param(0), "id", m.Tags["msg-id"], "text", text)
	case "PRIVMSG":
		p, ok := s.post(m)
		if !ok {
			s.log.Warn("twitch: message without id or channel skipped")
			return nil
		}
		if s.recent.Has(p.NativeID) {
			return nil
		}
		if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: p}); err != nil {
			return err
		}
		s.recent.Add(p.NativeID)
	case "CLEARMSG":
		ch, id := channel(m), m.Tags["target-msg-id"]
		if ch != "" && id != "" {
			return emit(ctx, wall.Item{Kind: wall.ItemDelete, IfKnown: true, Post: wall.Post{NativeID: ch + "/" + id}})
		}
	case "CLEARCHAT":
		// With a user: a ban or a timeout, whose messages leave; without
		// one: the whole chat was cleared.
		ch := channel(m)
		if ch == "" {
			return nil
		}
		return emit(ctx, wall.Item{Kind: wall.ItemDelete, Sweep: true, Post: wall.Post{NativeID: ch + "/", Author: wall.Author{Handle: strings.ToLower(m.param(1))}}})
	}
	return nil
}

func channel(m message) string {
	c, ok := strings.CutPrefix(m.param(0), "#")
	if !ok {
		return ""
	}
	return strings.ToLower(c)
}

// post maps a PRIVMSG.
func (s *Source) post(m message) (wall.Post, bool) {
	ch, id := channel(m), m.Tags["id"]
	if ch == "" || id == "" || strings.Contains(id, "/") {
		return wall.Post{}, false
	}
	text := m.param(1)
	action := false
	if inner, ok := strings.CutPrefix(text, "\x01ACTION "); ok {
		text, action = strings.TrimSuffix(inner, "\x01"), true
	}
	login := m.Tags["login"]
	if login == "" {
		login = m.nick()
	}
	login = strings.ToLower(login)
	name := strings.TrimSpace(m.Tags["display-name"])
	if name == "" {
		name = login
	}
	body := s.render(text, parseEmotes(m.Tags["emotes"]))
	if action {
		body = "<em>" + body + "</em>"
	}
	created := time.Now()
	if ms, err := strconv.ParseInt(m.Tags["tmi-sent-ts"], 10, 64); err == nil && ms > 0 {
		created = time.UnixMilli(ms)
	}
	return wall.Post{
		NativeID: ch + "/" + id, Network: "twitch",
		URL:    "https://www.twitch.tv/" + ch,
		Author: wall.Author{Name: name, Handle: login, URL: "https://www.twitch.tv/" + login},
		HTML:   "<p>" + body + "</p>", Text: text, CreatedAt: created.UTC(),
	}, true
}

var emoteID = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// render escapes text and puts each emote's image in place of its name.
// Twitch counts emote places in code points; a place out of range or
// overlapping another is ignored.
func (s *Source) render(text string, emotes []emote) string {
	runes := []rune(text)
	slices.SortFunc(emotes, func(a, b emote) int { return a.Start - b.Start })
	var b strings.Builder
	at := 0
	for _, e := range emotes {
		if e.Start < at || e.End >= len(runes) || !emoteID.MatchString(e.ID) {
			continue
		}
		b.WriteString(html.EscapeString(string(runes[at:e.Start])))
		alt := html.EscapeString(string(runes[e.Start : e.End+1]))
		fmt.Fprintf(&b, `<img class="emoji" src="%s/emoticons/v2/%s/default/dark/2.0" alt="%s" title="%s">`, s.cfg.EmoteCDN, e.ID, alt, alt)
		at = e.End + 1
	}
	b.WriteString(html.EscapeString(string(runes[at:])))
	return b.String()
}
