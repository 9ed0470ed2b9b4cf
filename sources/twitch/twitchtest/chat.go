// Package twitchtest is a fake of Twitch chat for tests: the IRC lines
// over WebSocket that Twitch documents.
package twitchtest

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// Chat speaks Twitch chat over WebSocket as Twitch documents it: the
// capability handshake, the welcome numerics, JOIN with NAMES and
// ROOMSTATE, PING/PONG, lines batched into messages with CRLF.
type Chat struct {
	// Token is the oauth token it accepts ("": any).
	Token string

	mu    sync.Mutex
	got   []string // lines from clients
	conns []*websocket.Conn
	// Joined gets each connection that joined its channels.
	Joined chan *websocket.Conn
	// OnJoin, when set, runs on its own for each joined connection.
	OnJoin func(ctx context.Context, c *websocket.Conn)
	// OnClose, when set, is told when a connection's reading ends.
	OnClose func(c *websocket.Conn)
}

// New returns a fake chat.
func New() *Chat {
	return &Chat{Joined: make(chan *websocket.Conn, 100)}
}

// Lines is what clients sent, line by line.
func (f *Chat) Lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// Send writes lines to every joined connection, as one message.
func (f *Chat) Send(lines ...string) {
	f.mu.Lock()
	conns := append([]*websocket.Conn(nil), f.conns...)
	f.mu.Unlock()
	for _, c := range conns {
		c.Write(context.Background(), websocket.MessageText, []byte(strings.Join(lines, "\r\n")+"\r\n"))
	}
}

// ServeHTTP accepts a WebSocket and plays Twitch.
func (f *Chat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if f.OnClose != nil {
		defer f.OnClose(c)
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
				if f.Token != "" && pass != "oauth:"+f.Token {
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
				f.Joined <- c
				if f.OnJoin != nil {
					go f.OnJoin(ctx, c)
				}
			case "PING":
				write(":tmi.twitch.tv PONG tmi.twitch.tv " + arg)
			}
		}
	}
}
