package upstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/wallcast/wallcast/wall"
)

// ErrNotCommitted is a push whose posts were not on disk within CommitWait.
var ErrNotCommitted = errors.New("not committed in time")

// Deliver hands a push source's items to ingest and returns once every
// one is committed (or the first error, or ErrNotCommitted after wait).
func Deliver(ctx context.Context, emit wall.Emit, items []wall.Item, wait time.Duration) error {
	if emit == nil {
		return errors.New("the source is not running")
	}
	acks := make(chan error, len(items))
	for i := range items {
		it := items[i]
		it.Ack = func(err error) { acks <- err }
		if err := emit(ctx, it); err != nil {
			return err
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for range items {
		select {
		case err := <-acks:
			if err != nil {
				return err
			}
		case <-timer.C:
			return ErrNotCommitted
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Backoff is exponential with full jitter: a random wait in [0,
// base*2^attempt], at most max, so many clients retrying do not come back
// at once.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	ceil := max
	if attempt < 30 {
		if d := base << attempt; d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}
