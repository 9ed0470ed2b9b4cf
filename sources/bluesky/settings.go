package bluesky

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// Settings are the keys of a bluesky source.
type Settings struct {
	Jetstream   []string `yaml:"jetstream"` // wss://…/subscribe URLs, tried in order
	AppView     string   `yaml:"appview"`
	PDS         string   `yaml:"pds"`
	Identifier  string   `yaml:"identifier"`
	AppPassword string   `yaml:"app_password" config:"secret"`
	UserAgent   string   `yaml:"user_agent"`
	// Accounts (handles or DIDs) make the source follow people.
	Accounts     []string        `yaml:"accounts"`
	ResolveEvery config.Duration `yaml:"resolve_every"`
}

// FollowsPeople says the source follows accounts.
func (s *Settings) FollowsPeople() bool { return len(s.Accounts) > 0 }

var account = regexp.MustCompile(`^(@?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}|did:(plc|web):[a-zA-Z0-9._:%-]+)$`)

// Defaults fills what was left out (the adapter has the endpoints' own).
func (s *Settings) Defaults() {
	if s.UserAgent == "" {
		s.UserAgent = config.DefaultUserAgent
	}
}

// Check says what is wrong.
func (s *Settings) Check() []config.Problem {
	var out []config.Problem
	for j, js := range s.Jetstream {
		if u, err := url.Parse(js); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			out = append(out, config.Problem{Key: fmt.Sprintf("jetstream[%d]", j), Msg: fmt.Sprintf("%q is not a WebSocket URL", js), Fix: `write "wss://jetstream1.us-east.bsky.network/subscribe"`})
		}
	}
	for _, kv := range [][2]string{{"appview", s.AppView}, {"pds", s.PDS}} {
		if kv[1] != "" && !config.HTTPURL(kv[1]) {
			out = append(out, config.Problem{Key: kv[0], Msg: fmt.Sprintf("%q is not an http(s) URL", kv[1]), Fix: "write the base URL, for example https://public.api.bsky.app"})
		}
	}
	for i, a := range s.Accounts {
		if !account.MatchString(a) {
			out = append(out, config.Problem{Key: fmt.Sprintf("accounts[%d]", i), Msg: fmt.Sprintf("%q is neither a handle nor a DID", a), Fix: `write a handle such as "ana.bsky.social" or a DID such as "did:plc:…"`})
		}
	}
	if s.ResolveEvery != 0 && s.ResolveEvery.D() < time.Minute {
		out = append(out, config.Problem{Key: "resolve_every", Msg: "must be at least 1m", Fix: `write "10m"`})
	}
	if (s.Identifier == "") != (s.AppPassword == "") {
		out = append(out, config.Problem{Msg: "identifier and app_password go together", Fix: "set both (for search backfill) or neither (live posts only)"})
	}
	return out
}

// Open builds a bluesky source from its settings.
func Open(src config.Source, env upstream.Env) (wall.Source, error) {
	s := src.Settings.(*Settings)
	return New(Config{
		Name: src.Name, Jetstream: s.Jetstream, AppView: s.AppView, PDS: s.PDS,
		Identifier: s.Identifier, AppPassword: s.AppPassword, UserAgent: s.UserAgent,
		Accounts: s.Accounts, ResolveEvery: s.ResolveEvery.D(),
	}, env.Client, env.Log), nil
}
