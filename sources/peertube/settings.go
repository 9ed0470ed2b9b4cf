package peertube

import (
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a peertube source.
type Settings struct {
	Instance     string          `yaml:"instance"`
	LocalOnly    bool            `yaml:"local_only"`
	PollInterval config.Duration `yaml:"poll_interval"`
	UserAgent    string          `yaml:"user_agent"`
}

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.PollInterval == 0 {
		s.PollInterval = config.Duration(time.Minute)
	}
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	if !config.HTTPURL(s.Instance) {
		out = append(out, config.Problem{Key: "instance", Msg: "a peertube source needs the base URL of an instance", Fix: `write instance: "https://framatube.org"`})
	}
	if s.PollInterval.D() < 10*time.Second {
		out = append(out, config.Problem{Key: "poll_interval", Msg: "must be at least 10s", Fix: `write "1m"`})
	}
	return out
}

// Open builds a peertube source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{Name: src.Name, Instance: s.Instance, LocalOnly: s.LocalOnly, PollInterval: s.PollInterval.D(), UserAgent: s.UserAgent}, env.Client, env.Log), nil
}
