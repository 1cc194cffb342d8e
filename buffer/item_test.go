package buffer

import (
	"context"
	"errors"
	"testing"
)

// linked returns the item linked after it, or nil if there is none yet: the
// state a reader's next would find, without waiting.
func linked[T any](it *item[T]) *item[T] { return it.link.next.Load() }

func TestItem_NextWaitsForAppend(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	head := b.head.Load()
	ctx := testContext(t)
	type result struct {
		next *item[int]
		err  error
	}
	got := make(chan result, 1)
	go func() {
		next, err := head.next(ctx, nil)
		got <- result{next, err}
	}()
	waitBlocked(t, 1)
	select {
	case <-got:
		t.Fatal("next returned before anything was appended")
	default:
	}

	b.Append([]int{7}, 1)
	r := <-got
	if r.err != nil || len(r.next.events) != 1 || r.next.events[0] != 7 || r.next.seq != 1 {
		t.Fatalf("next = %+v, want [7] seq 1", r)
	}
}

func TestItem_NextReturnsWhenContextEnds(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	ctx, cancel := context.WithCancel(testContext(t))
	errc := make(chan error, 1)
	go func() {
		_, err := b.head.Load().next(ctx, nil)
		errc <- err
	}()
	waitBlocked(t, 1)
	select {
	case err := <-errc:
		t.Fatalf("next returned %v before the context ended", err)
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("next = %v, want context.Canceled", err)
	}
}

func TestItem_NextPrefersALinkedItemOverAnEndedContext(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	head := b.head.Load()
	b.Append([]int{1}, 1)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	for range 100 {
		if next, err := head.next(ctx, nil); err != nil || next.seq != 1 {
			t.Fatalf("next = %v, %v; want the linked item", next, err)
		}
	}
}

func TestItem_FollowAfterSkipsTheCurrentItem(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	b.Append([]int{1}, 1)
	follow := b.head.Load().followAfter()
	if len(follow.events) != 0 || follow.seq != 1 {
		t.Fatalf("followAfter = %v seq %d; want no events, seq 1", follow.events, follow.seq)
	}
	if next := linked(follow); next != nil {
		t.Fatalf("followAfter already has a next item: %v", next.events)
	}
	b.Append([]int{2}, 1)
	next, err := follow.next(testContext(t), nil)
	if err != nil || next.events[0] != 2 {
		t.Fatalf("next after followAfter = %v, %v; want [2]", next, err)
	}
}

func TestItem_ErrorItemEndsTheBuffer(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	head := b.head.Load()
	end := errors.New("upstream gone")
	b.AppendErr(end)
	if _, err := head.next(testContext(t), nil); !errors.Is(err, end) {
		t.Fatalf("next = %v, want %v", err, end)
	}
}

func TestBuffer_AppendAfterAppendErrPanics(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	b.AppendErr(errors.New("done"))
	defer func() {
		if recover() == nil {
			t.Fatal("Append after AppendErr did not panic")
		}
	}()
	b.Append([]int{1}, 1)
}

func TestItem_SequenceAndBytesAccumulate(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	b.Append([]int{1}, 5)
	b.Append([]int{2, 3, 4}, 30)
	b.Append(nil, 0)
	b.Append([]int{5}, 7)
	it := b.oldest()
	type want struct{ first, seq, bytes uint64 }
	for i, w := range []want{{1, 1, 5}, {2, 4, 35}, {5, 4, 35}, {5, 5, 42}} {
		next := linked(it)
		if next == nil {
			t.Fatalf("item %d is missing", i)
		}
		if got := (want{next.firstSeq(), next.seq, next.bytes}); got != w {
			t.Errorf("item %d: first, seq, bytes = %v, want %v", i, got, w)
		}
		it = next
	}
	if got, want := b.Head(), (Mark{seq: 5, bytes: 42}); got != want {
		t.Errorf("Head = %+v, want %+v", got, want)
	}
}
