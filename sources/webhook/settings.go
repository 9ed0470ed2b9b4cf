package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/rss"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a webhook source.
type Settings struct {
	Secret            string          `yaml:"secret" config:"secret"`
	Flavor            string          `yaml:"flavor"` // wallcast, meta or websub
	VerifyToken       string          `yaml:"verify_token" config:"secret"`
	Hub               string          `yaml:"hub"`
	Topic             string          `yaml:"topic"`
	MaxBody           int64           `yaml:"max_body"`
	MaxPostsPerMinute int             `yaml:"max_posts_per_minute"`
	Interval          config.Duration `yaml:"interval"` // websub without a public address polls the topic
	UserAgent         string          `yaml:"user_agent"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.Flavor == "" {
		s.Flavor = "wallcast"
	}
	if s.MaxBody == 0 {
		s.MaxBody = 1 << 20
	}
	if s.MaxPostsPerMinute == 0 {
		s.MaxPostsPerMinute = 600
	}
	if s.Interval == 0 {
		s.Interval = config.Duration(5 * time.Minute)
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	out := config.CheckInterval(s.Interval, time.Second)
	// Every flavour signs its pushes; without a secret anyone could
	// compute the signature.
	if s.Secret == "" {
		out = append(out, config.Problem{Msg: "a webhook needs a secret to check signatures", Fix: `add secret: "${WALLCAST_HOOK_SECRET}" and set the variable`})
	}
	switch s.Flavor {
	case "wallcast":
	case "meta":
		if s.VerifyToken == "" {
			out = append(out, config.Problem{Msg: "a meta webhook needs verify_token for Meta's verification request", Fix: `add verify_token: "${META_VERIFY_TOKEN}"`})
		}
	case "websub":
		if u, err := url.Parse(s.Topic); s.Topic == "" || err != nil || u.Host == "" {
			out = append(out, config.Problem{Key: "topic", Msg: "a websub webhook needs the feed URL (topic)", Fix: `write topic: "https://example.org/feed.xml"`})
		}
		if u, err := url.Parse(s.Hub); s.Hub == "" || err != nil || u.Host == "" {
			out = append(out, config.Problem{Key: "hub", Msg: "a websub webhook needs the hub URL", Fix: `write hub: "https://pubsubhubbub.appspot.com/"`})
		}
	default:
		out = append(out, config.Problem{Key: "flavor", Msg: fmt.Sprintf("%q is not a webhook flavor", s.Flavor), Fix: "use wallcast, meta or websub"})
	}
	if s.MaxBody < 1024 {
		out = append(out, config.Problem{Key: "max_body", Msg: "must be at least 1024 bytes", Fix: "write a size in bytes, such as 1048576"})
	}
	return out
}

// Open builds a webhook source from its settings; it receives its pushes
// through env.Hooks.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	if env.Hooks == nil {
		return nil, errors.New("webhook " + src.Name + ": webhooks need the server's hook router")
	}
	poll := rss.New(rss.Config{Name: src.Name, URL: s.Topic, Interval: s.Interval.D(), UserAgent: s.UserAgent}, env.Client, env.Log)
	return New(Config{
		Name: src.Name, Flavor: s.Flavor, Secret: s.Secret, VerifyToken: s.VerifyToken, Hub: s.Hub, Topic: s.Topic,
		Callback: strings.TrimRight(env.BaseURL, "/") + "/hooks/" + src.Name, MaxBody: s.MaxBody,
		MaxPostsPerMinute: s.MaxPostsPerMinute, Poll: poll, UserAgent: s.UserAgent, Client: env.Client,
	}, env.Hooks, env.Log), nil
}
