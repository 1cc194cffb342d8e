package buffer

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuffer_WindowNeverExceedsAnyLimit(t *testing.T) {
	limits := []Retention{
		{MaxMessages: 50},
		{MaxBytes: 4000},
		{MaxMessages: 30, MaxBytes: 2500},
	}
	for _, r := range limits {
		rng := rand.New(rand.NewPCG(1, 2))
		b := New[int](r)
		seq := 0
		for range 5000 {
			n := rng.IntN(5) // empty items too
			events := make([]int, n)
			for i := range events {
				seq++
				events[i] = seq
			}
			b.Append(events, uint64(n*rng.IntN(200)))

			msgs, bytes := b.Window()
			if r.MaxMessages > 0 && msgs > r.MaxMessages {
				t.Fatalf("%+v: window holds %d messages", r, msgs)
			}
			if r.MaxBytes > 0 && bytes > r.MaxBytes {
				t.Fatalf("%+v: window holds %d bytes", r, bytes)
			}
			if got := countFromOldest(b); got != msgs {
				t.Fatalf("%+v: a reader from the oldest sees %d events, Window says %d", r, got, msgs)
			}
		}
		if msgs, _ := b.Window(); msgs == 0 {
			t.Fatalf("%+v: the window ended empty", r)
		}
	}
}

// countFromOldest counts the events between the oldest retained one and the
// head, walking the list as a reader would.
func countFromOldest(b *Buffer[int]) uint64 {
	var n uint64
	start := b.oldest()
	for it := linked(start); it != nil; it = linked(it) {
		for _, e := range it.events {
			if uint64(e) > start.seq {
				n++
			}
		}
	}
	return n
}

func TestBuffer_AnItemLargerThanTheWindowIsDroppedByTheNextAppend(t *testing.T) {
	b := New[int](Retention{MaxBytes: 100})
	b.Append([]int{1}, 500)
	b.Append([]int{2}, 10)
	if msgs, bytes := b.Window(); msgs != 1 || bytes != 10 {
		t.Fatalf("Window = %d messages, %d bytes; want 1, 10", msgs, bytes)
	}
}

func TestBuffer_ZeroRetentionKeepsNothing(t *testing.T) {
	b := New[int](Retention{})
	appendN(b, 1, 10)
	if msgs, _ := b.Window(); msgs != 0 {
		t.Fatalf("Window = %d messages, want 0", msgs)
	}
}

func TestBuffer_MaxAgeDropsOldItemsOnAppendAndExpire(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	b := New[int](Retention{MaxAge: time.Minute}, WithClock(clock))

	b.Append([]int{1}, 1)
	now = now.Add(30 * time.Second)
	b.Append([]int{2}, 1)
	now = now.Add(31 * time.Second) // event 1 is now 61s old
	b.Append([]int{3}, 1)
	if msgs, _ := b.Window(); msgs != 2 {
		t.Fatalf("after append: window = %d messages, want 2 (events 2 and 3)", msgs)
	}

	now = now.Add(45 * time.Second) // event 2: 76s, event 3: 45s
	b.Expire()
	if msgs, _ := b.Window(); msgs != 1 {
		t.Fatalf("after Expire: window = %d messages, want 1 (event 3)", msgs)
	}
	if next := linked(b.oldest()); next == nil || next.events[0] != 3 {
		t.Fatalf("oldest retained = %v, want event 3", next)
	}

	now = now.Add(time.Hour)
	b.Expire()
	if msgs, _ := b.Window(); msgs != 0 {
		t.Fatalf("after everything aged out: window = %d messages, want 0", msgs)
	}
}

func TestBuffer_MessageLimitIsExactEvenInsideABatch(t *testing.T) {
	b := New[int](Retention{MaxMessages: 5})
	b.Append([]int{1, 2, 3, 4}, 4)
	b.Append([]int{5, 6, 7}, 3) // the window is 3..7: it cuts the first batch
	if msgs, _ := b.Window(); msgs != 5 {
		t.Fatalf("Window = %d messages, want 5", msgs)
	}
	r, _ := b.NewReader(StartAtOldest(), Lag{})
	defer r.Close()
	if got := readEvents(t, r, 5); !slices.Equal(got, []int{3, 4, 5, 6, 7}) {
		t.Fatalf("a reader from the oldest read %v, want [3 4 5 6 7]", got)
	}
}
