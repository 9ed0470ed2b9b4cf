package web

import (
	"context"
)

// budget bounds the bytes that uploads hold in memory at once, in MiB: a
// post reserves what its request says it carries before its body is read
// (the whole cap when it does not say), and gives it back when it is
// answered. Past the budget, posts wait their turn.
type budget struct {
	turn   chan struct{} // one reservation at a time: no two half-served
	tokens chan struct{} // one per free MiB
}

func newBudget(mib int) *budget {
	b := &budget{turn: make(chan struct{}, 1), tokens: make(chan struct{}, mib)}
	for range mib {
		b.tokens <- struct{}{}
	}
	return b
}

// reserve takes n bytes of the budget (at least 1 MiB, at most all of
// it), waiting until ctx ends; release gives them back.
func (b *budget) reserve(ctx context.Context, n int64) (release func(), err error) {
	mib := min(max(int((n+(1<<20)-1)>>20), 1), cap(b.tokens))
	select {
	case b.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-b.turn }()
	got := 0
	give := func() {
		for range got {
			b.tokens <- struct{}{}
		}
	}
	for got < mib {
		select {
		case <-b.tokens:
			got++
		case <-ctx.Done():
			give()
			return nil, ctx.Err()
		}
	}
	return give, nil
}
