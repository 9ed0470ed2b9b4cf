package web

import (
	"context"
	"testing"
	"time"
)

// TestBudget: reservations up to the budget go at once; past it, one
// waits until another gives back, or until its context ends, taking
// nothing.
func TestBudget(t *testing.T) {
	b := newBudget(4)
	ctx := context.Background()
	r1, err := b.reserve(ctx, 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.reserve(ctx, 10) // rounds up to 1 MiB
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.reserve(short, 1); err == nil {
		t.Fatal("a reservation past the budget went through")
	}
	got := make(chan func(), 1)
	go func() {
		r, err := b.reserve(ctx, 100<<20) // more than the budget: all of it
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	r1()
	select {
	case <-got:
		t.Fatal("the whole budget was taken while 1 MiB was still held")
	case <-time.After(20 * time.Millisecond):
	}
	r2()
	r := <-got
	r()
	if len(b.tokens) != 4 {
		t.Fatalf("%d MiB free after everything was given back, want 4", len(b.tokens))
	}
}
