package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// counts is what a share of the screens saw: the deliveries, the posts
// missing, the streams the server closed, and the latencies by server.
type counts struct {
	Deliveries, Lost int64
	Repeated, Moved  int64
	Dropped          int
	Hist             []*histogram
}

func tally(screens []*screen, readers []*reader, n, servers int) counts {
	c := counts{}
	for range servers {
		c.Hist = append(c.Hist, newHistogram())
	}
	for _, s := range screens {
		s.close()
		got := s.count()
		c.Deliveries += int64(got)
		c.Lost += int64(n - got)
		c.Repeated += s.repeats.Load()
		c.Moved += s.moves.Load()
		if s.dropped.Load() {
			c.Dropped++
		}
	}
	for _, r := range readers {
		for i, h := range r.hist {
			c.Hist[i].merge(h)
		}
	}
	return c
}

func (c *counts) add(o counts) {
	c.Deliveries += o.Deliveries
	c.Lost += o.Lost
	c.Repeated += o.Repeated
	c.Moved += o.Moved
	c.Dropped += o.Dropped
	for i := range min(len(c.Hist), len(o.Hist)) {
		c.Hist[i].merge(o.Hist[i])
	}
}

// child is another process of the tool, reading a share of the screens.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startChild runs "wallcast bench -child" for n screens from the
// offset-th on.
func startChild(ctx context.Context, o Options, run string, posts, offset, n int) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	args := []string{"bench", "-child", "-url", strings.Join(append([]string{o.URL}, o.URLs...), ","), "-wall", o.Wall,
		"-subscribers", strconv.Itoa(n), "-offset", strconv.Itoa(offset), "-run", run, "-posts", strconv.Itoa(posts),
		"-sources", strings.Join(o.Sources, ","), "-per-source", strconv.Itoa(o.PerSource), "-grace", o.Grace.String(),
		"-reconnect=" + strconv.FormatBool(o.Reconnect)}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start a reading process: %w", err)
	}
	return &child{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

func (k *child) pid() int { return k.cmd.Process.Pid }

// ready waits until the child's screens are open.
func (k *child) ready() error {
	line, err := k.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("bench: a reading process failed: %q %v", strings.TrimSpace(line), err)
	}
	return nil
}

// done tells the child how many posts were published.
func (k *child) done(n int) { fmt.Fprintf(k.in, "done %d\n", n) }

// result reads what the child's screens saw.
func (k *child) result() (counts, error) {
	var c counts
	line, err := k.out.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &c)
	}
	if err != nil {
		return c, fmt.Errorf("bench: a reading process's result: %w", err)
	}
	return c, k.cmd.Wait()
}

func (k *child) stop() {
	k.in.Close()
	if k.cmd.ProcessState == nil {
		k.cmd.Process.Kill()
		k.cmd.Wait()
	}
}

// ChildLink is how a child talks to the process that started it: it says
// "ready" once its screens are open, reads "done N" (the posts published),
// and answers with what its screens saw, as one line of JSON.
type ChildLink struct {
	In  *bufio.Reader
	Out io.Writer
}

func (c *ChildLink) wait() (int, error) {
	fmt.Fprintln(c.Out, "ready")
	line, err := c.In.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("bench: the parent went away: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "done "))
	if err != nil {
		return 0, fmt.Errorf("bench: the parent said %q", line)
	}
	return n, nil
}

func (c *ChildLink) answer(t counts) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.Out, "%s\n", b)
	return err
}
