package twitch

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a twitch source.
type Settings struct {
	Channels   []string `yaml:"channels"`
	Username   string   `yaml:"username"`
	OAuthToken string   `yaml:"oauth_token" config:"secret"`
	Server     string   `yaml:"server"`
	UserAgent  string   `yaml:"user_agent"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.Server == "" {
		s.Server = DefaultServer
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

// channelName is Twitch's rule for a login: 4 to 25 letters, digits or
// underscores (older names may be shorter).
var channelName = regexp.MustCompile(`^#?[A-Za-z0-9_]{1,25}$`)

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	if len(s.Channels) == 0 {
		out = append(out, config.Problem{Key: "channels", Msg: "a twitch source needs the channels whose chat it shows", Fix: "write channels: [yourchannel]"})
	}
	for i, c := range s.Channels {
		if !channelName.MatchString(c) {
			out = append(out, config.Problem{Key: fmt.Sprintf("channels[%d]", i), Msg: fmt.Sprintf("%q is not a Twitch channel name", c), Fix: "write the channel's login, as in twitch.tv/<login>"})
		}
	}
	if (s.Username == "") != (s.OAuthToken == "") {
		out = append(out, config.Problem{Msg: "username and oauth_token go together", Fix: "set both (to read as that user) or neither (anonymous, read only)"})
	}
	if u, err := url.Parse(s.Server); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		out = append(out, config.Problem{Key: "server", Msg: fmt.Sprintf("%q is not a WebSocket URL", s.Server), Fix: "leave it out for " + DefaultServer})
	}
	return out
}

// StallTimeout is the type's default: the source pings every 30 s.
const StallTimeout = 75 * time.Second

// Open builds a twitch source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{
		Name: src.Name, Channels: append([]string(nil), s.Channels...), Username: s.Username,
		OAuthToken: s.OAuthToken, Server: s.Server, UserAgent: s.UserAgent,
	}, env.Client, env.Log), nil
}
