package buffer

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes. It synchronises
// a test with a state it cannot be told about, without sleeping for a guess.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// blockedInNext counts goroutines parked inside the buffer's wait for the
// next item, read from the runtime's own goroutine dump.
func blockedInNext() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		header, _, _ := strings.Cut(string(g), "\n")
		if strings.Contains(header, "[select") && strings.Contains(string(g), "buffer.(*item[...]).next(") {
			count++
		}
	}
	return count
}

// waitBlocked waits until n goroutines are parked waiting for the next item.
func waitBlocked(t testing.TB, n int) {
	t.Helper()
	waitFor(t, "readers to block in Next", func() bool { return blockedInNext() >= n })
}

// appendN appends the events from, from+1, … from+n-1, one item each, with a
// size of 10 bytes per event.
func appendN(b interface{ Append([]int, uint64) }, from, n int) {
	for i := range n {
		b.Append([]int{from + i}, 10)
	}
}

// testContext returns a context that ends with the test or after a deadline,
// so that a Next that never returns fails the test instead of hanging it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stallContext returns a context that ends once progress has not been
// called for a whole interval of stall, with a cause that says so. It guards
// a long test against a hang without a deadline on its total time: a busy
// machine slows the test down, but a hang stops its progress.
func stallContext(t *testing.T, stall time.Duration) (ctx context.Context, progress func()) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	var count atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(stall)
		defer tick.Stop()
		last := count.Load()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := count.Load()
			if now == last {
				cancel(fmt.Errorf("no progress for %v: hung", stall))
				return
			}
			last = now
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		cancel(nil)
	})
	return ctx, func() { count.Add(1) }
}
