package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/wallcast/wallcast/config"
	"github.com/wallcast/wallcast/media"
	"github.com/wallcast/wallcast/wall"
)

// Classifier asks a team's own model about posts, off the ingest path:
// ingest commits a post as pending ("waiting for the classifier") and
// goes on; a bounded pool of workers calls the model and commits its
// verdict. A slow, failing or nonsensical classifier costs the posts it
// holds their on_error fate, never the wall its flow.
type Classifier struct {
	cfg    config.Classifier
	client *http.Client
	jobs   chan job // bounded: queueSize
	// verdict commits a decision in turn with ingest.
	verdict func(slug, postID, status, reason string) error
	manual  func(slug string) bool
	log     *slog.Logger
	wg      sync.WaitGroup
	// MediaBase is the server's public URL: the pictures of uploads are
	// sent to the classifier as absolute URLs under it, to fetch.
	MediaBase string
}

type job struct {
	wall string
	post wall.Post
}

// queueSize is how many posts may wait for the classifier; past it, the
// on_error rule decides.
const queueSize = 10000

// Score is the classifier's answer.
type Score struct {
	Score  *float64 `json:"score"`
	Labels []string `json:"labels"`
}

// NewClassifier returns a classifier with cfg; verdict commits a decision
// (status visible, pending or rejected, with the reason), manual tells the
// walls that hold every post anyway.
func NewClassifier(cfg config.Classifier, verdict func(slug, postID, status, reason string) error, manual func(string) bool, log *slog.Logger) *Classifier {
	return &Classifier{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout.D(), CheckRedirect: noRedirects}, jobs: make(chan job, queueSize),
		verdict: verdict, manual: manual, log: log}
}

// Start runs the workers until ctx ends.
func (c *Classifier) Start(ctx context.Context) {
	for range c.cfg.Concurrency {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-c.jobs:
					c.judge(ctx, j)
				}
			}
		}()
	}
}

// Wait waits for the workers to end (after ctx).
func (c *Classifier) Wait() { c.wg.Wait() }

// submit queues a post; with the queue full the on_error rule decides at
// once. It runs on ingest's writer, which holds the commit lock that a
// verdict needs: that verdict is committed from a goroutine of its own.
func (c *Classifier) submit(j job) {
	select {
	case c.jobs <- j:
	default:
		go c.decide(j, Score{}, errors.New("too many posts waiting for the classifier"))
	}
}

func (c *Classifier) judge(ctx context.Context, j job) {
	s, err := c.ask(ctx, j.post)
	if ctx.Err() != nil {
		return // shutting down: the post stays pending, a moderator decides
	}
	c.decide(j, s, err)
}

// ask POSTs the post's JSON and reads the score.
func (c *Classifier) ask(ctx context.Context, p wall.Post) (Score, error) {
	p.Media = slices.Clone(p.Media)
	for i, m := range p.Media {
		if _, ok := media.NameOf(m.URL); ok {
			p.Media[i].URL = strings.TrimRight(c.MediaBase, "/") + m.URL
		}
	}
	body, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Score{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", config.DefaultUserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Score{}, fmt.Errorf("no answer within %s", c.cfg.Timeout.D())
		}
		if errors.Is(err, errRedirect) {
			return Score{}, errRedirect
		}
		return Score{}, errors.New("cannot reach it")
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Score{}, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var s Score
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&s); err != nil || s.Score == nil || *s.Score < 0 || *s.Score > 1 {
		return Score{}, errors.New(`not {"score": 0..1, "labels": [...]}`)
	}
	return s, nil
}

// noRedirects keeps a post with the classifier: a redirect would send it
// elsewhere and take that answer; it is an error (on_error decides).
func noRedirects(*http.Request, []*http.Request) error { return errRedirect }

var errRedirect = errors.New("it redirected the post elsewhere")

// decide turns a score, or a failure, into a verdict and commits it.
func (c *Classifier) decide(j job, s Score, err error) {
	manual := c.manual(j.wall)
	status, reason := wall.StatusVisible, ""
	switch {
	case err != nil && c.cfg.OnError == "hold":
		status, reason = wall.StatusPending, "held: classifier failed ("+err.Error()+")"
	case err != nil:
		reason = "classifier failed (" + err.Error() + "), passed"
	case *s.Score >= c.cfg.RejectAbove:
		status, reason = wall.StatusRejected, "classifier "+describe(s)
	case *s.Score >= c.cfg.HoldAbove:
		status, reason = wall.StatusPending, "held: classifier "+describe(s)
	default:
		reason = "classifier " + describe(s)
	}
	if status == wall.StatusVisible && manual {
		status = wall.StatusPending // a moderator decides, with the score in view
	}
	if err != nil {
		c.log.Warn("classifier: no verdict; on_error applies", "post", j.post.ID, "err", err, "on_error", c.cfg.OnError)
	}
	if verr := c.verdict(j.wall, j.post.ID, status, reason); verr != nil {
		c.log.Error("classifier: cannot store the verdict; the post stays pending", "post", j.post.ID, "err", verr)
	}
}

// describe writes a score and its labels for the console: "0.91 (insult,
// toxicity)".
func describe(s Score) string {
	d := fmt.Sprintf("%.2f", *s.Score)
	if len(s.Labels) > 0 {
		labels := s.Labels[:min(len(s.Labels), 5)]
		for i, l := range labels {
			labels[i] = strings.Join(strings.Fields(l), " ")
		}
		d += " (" + strings.Join(labels, ", ") + ")"
	}
	return d
}

// SetClassifier gives the pipeline a classifier (nil: none; posts that wait
// for one stay pending for a moderator).
func (p *Pipeline) SetClassifier(c *Classifier) { p.judge.Store(c) }

// classify hands the committed posts that wait for a verdict to the
// classifier.
func (p *Pipeline) classify(batch []wall.Write) {
	c := p.judge.Load()
	if c == nil {
		return
	}
	for _, w := range batch {
		for _, t := range w.Targets {
			if t.Classify {
				c.submit(job{wall: t.Wall, post: w.Item.Post})
			}
		}
	}
}
