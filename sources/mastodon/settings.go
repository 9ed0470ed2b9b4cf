package mastodon

import (
	"fmt"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a mastodon source.
type Settings struct {
	Instance       string          `yaml:"instance"`
	AccessToken    string          `yaml:"access_token" config:"secret"`
	Mode           string          `yaml:"mode"` // stream (falls back to polling) or poll
	PollInterval   config.Duration `yaml:"poll_interval"`
	LocalOnly      bool            `yaml:"local_only"`
	IncludeReplies bool            `yaml:"include_replies"`
	IncludeBoosts  bool            `yaml:"include_boosts"`
	UserAgent      string          `yaml:"user_agent"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.Mode == "" {
		s.Mode = "stream"
	}
	if s.PollInterval == 0 {
		s.PollInterval = config.Duration(30 * time.Second)
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	if !config.HTTPURL(s.Instance) {
		out = append(out, config.Problem{Key: "instance", Msg: "a mastodon source needs the base URL of the server", Fix: `write instance: "https://mastodon.social"`})
	}
	if s.Mode != "stream" && s.Mode != "poll" {
		out = append(out, config.Problem{Key: "mode", Msg: fmt.Sprintf("%q is not a mode", s.Mode), Fix: "use stream (with automatic fallback to polling) or poll"})
	}
	if s.PollInterval.D() < time.Second {
		out = append(out, config.Problem{Key: "poll_interval", Msg: "must be at least 1s", Fix: `write a duration such as "30s"`})
	}
	return out
}

// Open builds a mastodon source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{
		Name: src.Name, Instance: s.Instance, AccessToken: s.AccessToken, Stream: s.Mode != "poll",
		PollInterval: s.PollInterval.D(), LocalOnly: s.LocalOnly, IncludeReplies: s.IncludeReplies,
		IncludeBoosts: s.IncludeBoosts, UserAgent: s.UserAgent,
	}, env.Client, env.Log), nil
}
