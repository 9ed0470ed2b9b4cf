package twitch

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// fakeChat speaks Twitch chat over WebSocket as Twitch documents it: the
// capability handshake, the welcome numerics, JOIN with NAMES and
// ROOMSTATE, PING/PONG, lines batched into messages with CRLF.
type fakeChat struct {
	t     testing.TB
	token string // the oauth token it accepts ("": any)

	mu     sync.Mutex
	got    []string // lines from clients
	conns  []*websocket.Conn
	joined chan *websocket.Conn
	// onJoin, when set, runs on its own for each joined connection.
	onJoin func(ctx context.Context, c *websocket.Conn)
	// onClose, when set, is told when a connection's reading ends.
	onClose func(c *websocket.Conn)
}

func newFakeChat(t testing.TB) *fakeChat {
	return &fakeChat{t: t, joined: make(chan *websocket.Conn, 16)}
}

func (f *fakeChat) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// send writes lines to every joined connection, as one message.
func (f *fakeChat) send(lines ...string) {
	f.mu.Lock()
	conns := append([]*websocket.Conn(nil), f.conns...)
	f.mu.Unlock()
	for _, c := range conns {
		c.Write(context.Background(), websocket.MessageText, []byte(strings.Join(lines, "\r\n")+"\r\n"))
	}
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if f.onClose != nil {
		defer f.onClose(c)
	}
	write := func(lines ...string) error {
		return c.Write(ctx, websocket.MessageText, []byte(strings.Join(lines, "\r\n")+"\r\n"))
	}
	var pass, nick string
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		for _, line := range strings.Split(strings.TrimRight(string(data), "\r\n"), "\r\n") {
			f.mu.Lock()
			f.got = append(f.got, line)
			f.mu.Unlock()
			cmd, arg, _ := strings.Cut(line, " ")
			switch cmd {
			case "CAP":
				write(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands")
			case "PASS":
				pass = arg
			case "NICK":
				nick = arg
				if f.token != "" && pass != "oauth:"+f.token {
					write(":tmi.twitch.tv NOTICE * :Login authentication failed")
					return
				}
				write(":tmi.twitch.tv 001 "+nick+" :Welcome, GLHF!", ":tmi.twitch.tv 002 "+nick+" :Your host is tmi.twitch.tv",
					":tmi.twitch.tv 003 "+nick+" :This server is rather new", ":tmi.twitch.tv 004 "+nick+" :-",
					":tmi.twitch.tv 375 "+nick+" :-", ":tmi.twitch.tv 372 "+nick+" :You are in a maze of twisty passages, all alike.",
					":tmi.twitch.tv 376 "+nick+" :>")
			case "JOIN":
				for _, ch := range strings.Split(arg, ",") {
					write(":"+nick+"!"+nick+"@"+nick+".tmi.twitch.tv JOIN "+ch,
						":"+nick+".tmi.twitch.tv 353 "+nick+" = "+ch+" :"+nick,
						":"+nick+".tmi.twitch.tv 366 "+nick+" "+ch+" :End of /NAMES list",
						"@emote-only=0;followers-only=-1;r9k=0;room-id=1337;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE "+ch)
				}
				f.mu.Lock()
				f.conns = append(f.conns, c)
				f.mu.Unlock()
				f.joined <- c
				if f.onJoin != nil {
					go f.onJoin(ctx, c)
				}
			case "PING":
				write(":tmi.twitch.tv PONG tmi.twitch.tv " + arg)
			}
		}
	}
}
