package rss

import (
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of an rss source.
type Settings struct {
	URL       string          `yaml:"url"`
	Interval  config.Duration `yaml:"interval"`
	UserAgent string          `yaml:"user_agent"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
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
	if !config.HTTPURL(s.URL) {
		out = append(out, config.Problem{Key: "url", Msg: "an rss source needs the http(s) URL of the feed", Fix: `write url: "https://example.org/feed.xml"`})
	}
	return out
}

// Open builds an rss source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{Name: src.Name, URL: s.URL, Interval: s.Interval.D(), UserAgent: s.UserAgent}, env.Client, env.Log), nil
}
