package ingest

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/wall"
)

// Committer runs a write in turn with ingest and publishes its events,
// and takes a new routing: the Pipeline.
type Committer interface {
	Do(fn func() ([]wall.Event, error)) error
	SetRouter(r *Router)
}

// RuleStore is where the rules added at run time are kept.
type RuleStore interface {
	AddRule(ctx context.Context, r wall.Rule, user string, catches func(wall.Post) bool) ([]wall.Event, []wall.Change, bool, error)
	Undo(ctx context.Context, slug string, changes []wall.Change, rule *wall.Rule, user string) ([]wall.Event, error)
	Rules(ctx context.Context) ([]wall.Rule, error)
}

// Writes is the console's one write side (wall.Writes): every write is
// committed and its events published (the screens' hub, the cluster's
// outbox) in turn with ingest, and a rule added or taken back changes the
// routing at once.
type Writes struct {
	pipe   Committer
	store  RuleStore
	config func() *config.Config
	log    *slog.Logger
}

var _ wall.Writes = (*Writes)(nil)

// NewWrites returns the write side of a pipeline; config is the config in
// use (it changes with a reload).
func NewWrites(pipe Committer, store RuleStore, config func() *config.Config, log *slog.Logger) *Writes {
	return &Writes{pipe: pipe, store: store, config: config, log: log}
}

// Commit runs a write and publishes its events.
func (w *Writes) Commit(fn func() ([]wall.Event, error)) error { return w.pipe.Do(fn) }

// AddRule commits a rule (a ban, a blocked word, a trusted author): the
// posts it catches are taken off the wall (or, trusted, shown), and the
// routing takes it. It returns those posts and whether the rule is new.
func (w *Writes) AddRule(ctx context.Context, r wall.Rule, user string) ([]wall.Change, bool, error) {
	if _, ok := TrustKey(r.Value); r.Kind == wall.RuleTrusted && !ok {
		return nil, false, fmt.Errorf(`%w: author is source:handle or network:handle, such as "mastodon-social:@ana@mastodon.social": a handle is trusted where it was vouched for, never a display name`, wall.ErrInvalid)
	}
	var changes []wall.Change
	var added bool
	err := w.pipe.Do(func() ([]wall.Event, error) {
		ev, ch, isNew, err := w.store.AddRule(ctx, r, user, func(p wall.Post) bool { return Catches(r, p) })
		changes, added = ch, isNew
		return ev, err
	})
	if err != nil {
		return nil, false, err
	}
	w.Reroute(ctx, w.config())
	return changes, added, nil
}

// Undo takes back what an action changed, and the rule it added.
func (w *Writes) Undo(ctx context.Context, slug string, changes []wall.Change, rule *wall.Rule, user string) error {
	err := w.pipe.Do(func() ([]wall.Event, error) { return w.store.Undo(ctx, slug, changes, rule, user) })
	if err == nil && rule != nil {
		w.Reroute(ctx, w.config())
	}
	return err
}

// Reroute gives the pipeline the routing of cfg with the rules kept (a
// rule that changed, a reload).
func (w *Writes) Reroute(ctx context.Context, cfg *config.Config) {
	w.pipe.SetRouter(Routing(ctx, w.store, cfg, w.log))
}

// Routing compiles the walls of cfg with the rules moderators added; when
// the rules cannot be read it logs why, and the walls' own rules apply.
func Routing(ctx context.Context, store RuleStore, cfg *config.Config, log *slog.Logger) *Router {
	rules, err := store.Rules(ctx)
	if err != nil {
		log.Error("loading moderation rules", "err", err)
	}
	return NewRouter(cfg, rules...)
}
