package buffer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/natsfan/natsfan/buffer"
)

func TestItem_NextWaitsForAppend(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	head := b.Head()
	ctx := testContext(t)
	got := make(chan *buffer.Item[int], 1)
	go func() {
		next, err := head.Next(ctx)
		if err != nil {
			t.Errorf("Next: %v", err)
		}
		got <- next
	}()
	waitBlocked(t, 1)
	select {
	case <-got:
		t.Fatal("Next returned before anything was appended")
	default:
	}

	b.Append([]int{7}, 1)
	next := <-got
	if len(next.Events) != 1 || next.Events[0] != 7 || next.Seq() != 1 {
		t.Fatalf("Next = %v seq %d, want [7] seq 1", next.Events, next.Seq())
	}
}

func TestItem_NextReturnsWhenContextEnds(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	ctx, cancel := context.WithCancel(testContext(t))
	errc := make(chan error, 1)
	go func() {
		_, err := b.Head().Next(ctx)
		errc <- err
	}()
	waitBlocked(t, 1)
	select {
	case err := <-errc:
		t.Fatalf("Next returned %v before the context ended", err)
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", err)
	}
}

func TestItem_NextPrefersALinkedItemOverAnEndedContext(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	head := b.Head()
	b.Append([]int{1}, 1)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	for range 100 {
		if next, err := head.Next(ctx); err != nil || next.Seq() != 1 {
			t.Fatalf("Next = %v, %v; want the linked item", next, err)
		}
	}
}

func TestItem_NextNoBlock(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	head := b.Head()
	if next, err := head.NextNoBlock(); next != nil || err != nil {
		t.Fatalf("NextNoBlock on the head = %v, %v; want nil, nil", next, err)
	}
	b.Append([]int{1, 2}, 2)
	next, err := head.NextNoBlock()
	if err != nil || next == nil || next.FirstSeq() != 1 || next.Seq() != 2 {
		t.Fatalf("NextNoBlock = %+v, %v; want the item holding events 1-2", next, err)
	}
}

func TestItem_FollowAfterSkipsTheCurrentItem(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	b.Append([]int{1}, 1)
	follow := b.Head().FollowAfter()
	if len(follow.Events) != 0 || follow.Seq() != 1 {
		t.Fatalf("FollowAfter = %v seq %d; want no events, seq 1", follow.Events, follow.Seq())
	}
	if next, _ := follow.NextNoBlock(); next != nil {
		t.Fatalf("FollowAfter already has a next item: %v", next.Events)
	}
	b.Append([]int{2}, 1)
	next, err := follow.Next(testContext(t))
	if err != nil || next.Events[0] != 2 {
		t.Fatalf("Next after FollowAfter = %v, %v; want [2]", next, err)
	}
}

func TestItem_ErrorItemEndsTheBuffer(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	head := b.Head()
	end := errors.New("upstream gone")
	b.AppendErr(end)
	if _, err := head.Next(testContext(t)); !errors.Is(err, end) {
		t.Fatalf("Next = %v, want %v", err, end)
	}
	if _, err := head.NextNoBlock(); !errors.Is(err, end) {
		t.Fatalf("NextNoBlock = %v, want %v", err, end)
	}
}

func TestBuffer_AppendAfterAppendErrPanics(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 10})
	b.AppendErr(errors.New("done"))
	defer func() {
		if recover() == nil {
			t.Fatal("Append after AppendErr did not panic")
		}
	}()
	b.Append([]int{1}, 1)
}

func TestItem_SequenceAndBytesAccumulate(t *testing.T) {
	b := buffer.New[int](buffer.Retention{MaxMessages: 100})
	b.Append([]int{1}, 5)
	b.Append([]int{2, 3, 4}, 30)
	b.Append(nil, 0)
	b.Append([]int{5}, 7)
	it := b.Oldest()
	type want struct{ first, seq, bytes uint64 }
	for i, w := range []want{{1, 1, 5}, {2, 4, 35}, {5, 4, 35}, {5, 5, 42}} {
		next, err := it.NextNoBlock()
		if err != nil || next == nil {
			t.Fatalf("item %d: %v, %v", i, next, err)
		}
		if got := (want{next.FirstSeq(), next.Seq(), next.Bytes()}); got != w {
			t.Errorf("item %d: first, seq, bytes = %v, want %v", i, got, w)
		}
		it = next
	}
}
