package bluesky

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

// errMoved is a handle of the config pointing to another DID now.
var errMoved = errors.New("an account's handle moved to another DID")

// resolveAccounts turns the accounts into DIDs (sorted, without repeats): a DID
// stays itself, a handle is resolved by the AppView.
func (s *Source) resolveAccounts(ctx context.Context) ([]string, error) {
	var dids []string
	for _, a := range s.cfg.Accounts {
		a = strings.TrimPrefix(strings.TrimSpace(a), "@")
		if strings.HasPrefix(a, "did:") {
			dids = append(dids, a)
			continue
		}
		var out struct {
			DID string `json:"did"`
		}
		err := s.xrpc(ctx, http.MethodGet, s.cfg.AppView, "com.atproto.identity.resolveHandle", url.Values{"handle": {a}}, nil, "", &out)
		var se *upstream.StatusError
		if errors.As(err, &se) && se.Code == http.StatusBadRequest {
			return nil, upstream.Permanent(fmt.Errorf("bluesky %s: the handle %s resolves to no account: check accounts", s.cfg.Name, a))
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(out.DID, "did:") {
			return nil, fmt.Errorf("bluesky %s: the handle %s resolved to %q, not a DID", s.cfg.Name, a, out.DID)
		}
		dids = append(dids, out.DID)
	}
	slices.Sort(dids)
	return slices.Compact(dids), nil
}

// watchHandles resolves the accounts again every ResolveEvery, and at once
// when Jetstream says one of them changed its handle; when the DIDs are no
// longer the ones followed, it ends the connection so the next one asks
// for the new ones.
func (s *Source) watchHandles(ctx context.Context, dids []string) error {
	t := time.NewTicker(s.cfg.ResolveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.moved:
		}
		now, err := s.resolveAccounts(ctx)
		if err != nil {
			s.log.Warn("bluesky: resolving the accounts again failed; keeping the DIDs followed", "err", err)
			continue
		}
		if !slices.Equal(now, dids) {
			s.log.Info("bluesky: an account's handle moved; following the new DIDs", "dids", now)
			return upstream.RetryExactly(fmt.Errorf("bluesky %s: %w", s.cfg.Name, errMoved), 0)
		}
	}
}

// feedItem is an item of app.bsky.feed.getAuthorFeed.
type feedItem struct {
	Post   postView `json:"post"`
	Reason *struct {
		Type string `json:"$type"`
	} `json:"reason"`
}

// authorFeeds fills a new people wall with each account's latest posts
// (their own, not their reposts), from the public AppView.
func (s *Source) authorFeeds(ctx context.Context, dids []string, emit wall.Emit) error {
	for _, did := range dids {
		var out struct {
			Feed []feedItem `json:"feed"`
		}
		q := url.Values{"actor": {did}, "limit": {"30"}, "filter": {"posts_with_replies"}}
		if err := s.xrpc(ctx, http.MethodGet, s.cfg.AppView, "app.bsky.feed.getAuthorFeed", q, nil, "", &out); err != nil {
			return err
		}
		for i := len(out.Feed) - 1; i >= 0; i-- { // oldest first
			it := out.Feed[i]
			if it.Reason != nil {
				continue // a repost of someone else's post
			}
			pdid, rkey, ok := splitURI(it.Post.URI)
			if !ok || pdid != did {
				continue
			}
			p := s.post(pdid, rkey, &it.Post.Record)
			if it.Post.Author.Handle != "" {
				applyProfile(&p, it.Post.Author)
			}
			if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: p}); err != nil {
				return err
			}
		}
	}
	return nil
}
