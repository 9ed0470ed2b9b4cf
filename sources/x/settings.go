package x

import (
	"fmt"
	"regexp"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of an x source.
type Settings struct {
	BearerToken  string          `yaml:"bearer_token" config:"secret"`
	APIBase      string          `yaml:"api_base"`
	Mode         string          `yaml:"mode"` // stream (filtered stream) or search (poll recent search)
	PollInterval config.Duration `yaml:"poll_interval"`
	UserAgent    string          `yaml:"user_agent"`
	// Accounts (handles) make the source follow people.
	Accounts []string `yaml:"accounts"`
}

// FollowsPeople says the source follows accounts.
func (s *Settings) FollowsPeople() bool { return len(s.Accounts) > 0 }

var handle = regexp.MustCompile(`^@?[A-Za-z0-9_]{1,15}$`)

// StallTimeout is the x type's stall_timeout: X sends a keep-alive every
// 20 seconds.
const StallTimeout = 30 * time.Second

// Defaults fills what was left out.
func (s *Settings) Defaults() {
	if s.Mode == "" {
		s.Mode = "stream"
	}
	if s.APIBase == "" {
		s.APIBase = "https://api.x.com"
	}
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
	if s.BearerToken == "" {
		out = append(out, config.Problem{Msg: "an x source needs bearer_token", Fix: `add bearer_token: "${X_BEARER_TOKEN}" (the app's Bearer Token)`})
	}
	for i, a := range s.Accounts {
		if !handle.MatchString(a) {
			out = append(out, config.Problem{Key: fmt.Sprintf("accounts[%d]", i), Msg: fmt.Sprintf("%q is not an X handle", a), Fix: "write the handle without spaces, as in x.com/<handle> (at most 15 letters, digits or _)"})
		}
	}
	if s.Mode != "stream" && s.Mode != "search" {
		out = append(out, config.Problem{Key: "mode", Msg: fmt.Sprintf("%q is not a mode", s.Mode), Fix: "use stream (filtered stream) or search (poll recent search)"})
	}
	return out
}

// Open builds an x source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{Name: src.Name, BearerToken: s.BearerToken, APIBase: s.APIBase, Stream: s.Mode == "stream",
		PollInterval: s.PollInterval.D(), UserAgent: s.UserAgent, Accounts: s.Accounts}, env.Client, env.Log), nil
}
