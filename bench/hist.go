package bench

import "time"

// histogram counts latencies in buckets of 10 µs up to 10 ms, of 100 µs
// up to 1 s and of 10 ms up to a minute (longer ones go in the last): a
// run of millions of deliveries, and its share from other processes, in
// a few thousand counters.
type histogram struct {
	Counts map[int]int64 `json:"counts"`
	Max    time.Duration `json:"max"`
	N      int64         `json:"n"`
}

func newHistogram() *histogram { return &histogram{Counts: map[int]int64{}} }

const (
	fine   = 10 * time.Microsecond
	middle = 100 * time.Microsecond
	coarse = 10 * time.Millisecond
)

func bucketOf(d time.Duration) int {
	switch {
	case d < 0:
		return 0
	case d < 10*time.Millisecond:
		return int(d / fine)
	case d < time.Second:
		return 1000 + int((d-10*time.Millisecond)/middle)
	case d < time.Minute:
		return 10900 + int((d-time.Second)/coarse)
	}
	return 10900 + 5900
}

// upper is the largest latency bucket i holds.
func upper(i int) time.Duration {
	switch {
	case i < 1000:
		return time.Duration(i+1) * fine
	case i < 10900:
		return 10*time.Millisecond + time.Duration(i-1000+1)*middle
	}
	return time.Second + time.Duration(i-10900+1)*coarse
}

func (h *histogram) add(d time.Duration) {
	h.Counts[bucketOf(d)]++
	h.N++
	h.Max = max(h.Max, d)
}

func (h *histogram) merge(o *histogram) {
	for k, v := range o.Counts {
		h.Counts[k] += v
	}
	h.N += o.N
	h.Max = max(h.Max, o.Max)
}

// quantiles reads p50, p90, p99 (each the upper edge of its bucket) and
// the max.
func (h *histogram) quantiles() (p50, p90, p99, mx time.Duration) {
	if h.N == 0 {
		return
	}
	want := []int64{h.N * 50 / 100, h.N * 90 / 100, h.N * 99 / 100}
	got := make([]time.Duration, 3)
	var seen int64
	k := 0
	for i := 0; i <= 10900+5900 && k < 3; i++ {
		seen += h.Counts[i]
		for k < 3 && seen > want[k] {
			got[k] = min(upper(i), h.Max)
			k++
		}
	}
	return got[0], got[1], got[2], h.Max
}
