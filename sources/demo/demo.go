// Package demo is a source that replays a bundled set of sample posts at a
// steady pace, so a wall is alive on a machine without internet. Every post
// is marked as demo (post.demo is true) and screens label it.
package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wallcast/wallcast/sources/upstream"
	"github.com/wallcast/wallcast/wall"
)

//go:embed posts.json
var samplesJSON []byte

type sample struct {
	Name    string `json:"name"`
	Handle  string `json:"handle"`
	Network string `json:"network"`
	Lang    string `json:"lang"`
	Text    string `json:"text"`
	Media   string `json:"media"`
	Alt     string `json:"alt"`
}

var samples = func() []sample {
	var s []sample
	if err := json.Unmarshal(samplesJSON, &s); err != nil {
		panic("demo: bundled posts.json: " + err.Error())
	}
	return s
}()

// Source replays the samples.
type Source struct {
	interval  time.Duration
	mediaBase string
}

// New returns a demo source that emits one post every interval. Media are
// served by Wallcast itself under mediaBase + "/static/demo/".
func New(interval time.Duration, mediaBase string) *Source {
	return &Source{interval: interval, mediaBase: strings.TrimRight(mediaBase, "/")}
}

// Run emits each sample post once, one every interval, then stays quiet
// (the screens bring back earlier posts while nothing new comes): a
// sample is never a new post twice. The cursor is the number of samples
// emitted, so a restart carries on where it stopped.
func (s *Source) Run(ctx context.Context, sub wall.Subscription, emit wall.Emit) error {
	n, _ := strconv.Atoi(sub.Cursor)
	tags := sub.Hashtags
	if len(tags) == 0 {
		tags = []string{"demo"}
	}
	upstream.SetState(ctx, wall.StateConnected)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if n >= len(samples) {
			upstream.SetState(ctx, wall.StateConnected, "every sample shown")
			<-ctx.Done()
			return nil
		}
		p := s.post(n, tags)
		n++
		if err := emit(ctx, wall.Item{Kind: wall.ItemPost, Post: p, Cursor: strconv.Itoa(n)}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Source) post(n int, tags []string) wall.Post {
	sm := samples[n]
	tag := tags[n%len(tags)]
	p := wall.Post{
		NativeID:  strconv.Itoa(n),
		Network:   sm.Network,
		Author:    wall.Author{Name: sm.Name, Handle: sm.Handle},
		Text:      strings.ReplaceAll(sm.Text, "{tag}", "#"+tag),
		Tags:      []string{tag},
		Lang:      sm.Lang,
		Demo:      true,
		CreatedAt: time.Now().UTC(),
	}
	if sm.Media != "" && s.mediaBase != "" {
		p.Media = []wall.Media{{Type: "image", URL: fmt.Sprintf("%s/static/demo/%s", s.mediaBase, sm.Media), Alt: sm.Alt}}
	}
	return p
}
