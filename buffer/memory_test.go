package buffer

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// payload stands for a message body; the tests count how many the garbage
// collector has freed.
type payload struct{ data [1024]byte }

// tracked appends n one-event items whose payloads bump freed when the
// garbage collector frees them.
func tracked(b *Buffer[*payload], n int, freed *atomic.Int64) {
	for range n {
		p := new(payload)
		runtime.AddCleanup(p, func(c *atomic.Int64) { c.Add(1) }, freed)
		b.Append([]*payload{p}, uint64(len(p.data)))
	}
}

// waitFreed runs the garbage collector until at least want payloads were
// freed.
func waitFreed(t *testing.T, freed *atomic.Int64, want int64) {
	t.Helper()
	waitFor(t, "the garbage collector to free old payloads", func() bool {
		runtime.GC()
		return freed.Load() >= want
	})
}

// aliveAfterGC runs the garbage collector a few times and reports how many
// payloads are still alive out of total.
func aliveAfterGC(freed *atomic.Int64, total int64) int64 {
	for range 3 {
		runtime.GC()
	}
	return total - freed.Load()
}

func TestBuffer_ItemsOutsideTheWindowAreFreed(t *testing.T) {
	var freed atomic.Int64
	b := New[*payload](Retention{MaxMessages: 10})
	tracked(b, 1000, &freed)
	waitFreed(t, &freed, 990)
	runtime.KeepAlive(b)
}

func TestBuffer_AReaderHoldsWhatItHasNotReadUntilItIsClosed(t *testing.T) {
	var freed atomic.Int64
	b := New[*payload](Retention{MaxMessages: 10})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	tracked(b, 500, &freed)
	if alive := aliveAfterGC(&freed, 500); alive != 500 {
		t.Fatalf("%d of 500 payloads alive while an unread reader holds them all", alive)
	}
	r.Close()
	waitFreed(t, &freed, 490)
	runtime.KeepAlive(b)
}

func TestBuffer_AStuckReaderCutOffByEnforceLagReleasesItsItems(t *testing.T) {
	var freed atomic.Int64
	b := New[*payload](Retention{MaxMessages: 10})
	r, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 100})
	tracked(b, 1000, &freed)
	b.EnforceLag()
	waitFreed(t, &freed, 990)
	runtime.KeepAlive(r)
	runtime.KeepAlive(b)
}

func TestBuffer_HeapStaysBoundedWithAStuckReader(t *testing.T) {
	for _, policy := range []LagPolicy{LagDisconnect, LagSkip} {
		heapStaysBoundedWithAStuckReader(t, policy)
	}
}

func heapStaysBoundedWithAStuckReader(t *testing.T, policy LagPolicy) {
	var freed atomic.Int64
	const window, lag, round = 100, 200, 100
	b := New[*payload](Retention{MaxMessages: window})
	r, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: lag, Policy: policy})
	// The reader never reads. Whatever stays alive beyond the window, the
	// lag limit and one round between sweeps is memory it pinned.
	const bound = window + lag + round
	appended := int64(0)
	for range 200 {
		tracked(b, round, &freed)
		appended += round
		b.EnforceLag() // what the owner's sweeper does periodically
		waitFor(t, "live payloads to fall within the bound", func() bool {
			runtime.GC()
			return appended-freed.Load() <= bound
		})
	}
	runtime.KeepAlive(r)
	runtime.KeepAlive(b)
}

// Head is the buffer's counters, not its newest item: an item would hold
// everything appended after it, past the retention window and without a
// lag limit.
func TestBuffer_WhatHeadReturnsHoldsNothing(t *testing.T) {
	var freed atomic.Int64
	b := New[*payload](Retention{MaxMessages: 10})
	head := b.Head()
	tracked(b, 1000, &freed)
	waitFreed(t, &freed, 990)
	runtime.KeepAlive(head)
	runtime.KeepAlive(b)
}
