package buffer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestBuffer_ThousandReadersSeeEveryEventInOrder hammers the buffer with
// 1,000 readers while the writer appends batches with random pauses, so
// that readers sometimes wait on the head and sometimes walk a backlog.
//
// It takes seconds alone and many times that on a machine busy with a
// parallel build, so what guards it against a hang is a deadline on
// progress, not on its total time.
func TestBuffer_ThousandReadersSeeEveryEventInOrder(t *testing.T) {
	const readers, events = 1000, 3000
	b := New[int](Retention{MaxMessages: 64})
	ctx, progress := stallContext(t, 10*time.Second)

	var wg sync.WaitGroup
	errs := make(chan string, readers)
	for range readers {
		r, _ := b.NewReader(StartAtHead(), Lag{})
		wg.Go(func() {
			defer r.Close()
			want := 1
			for want <= events {
				batch, err := r.Next(ctx)
				if err != nil {
					errs <- fmt.Sprintf("after %d events: %v", want-1, context.Cause(ctx))
					return
				}
				progress()
				if batch.Missed != 0 || batch.FirstSeq != uint64(want) {
					errs <- "gap in the sequence"
					return
				}
				for _, e := range batch.Events {
					if e != want {
						errs <- "event out of order"
						return
					}
					want++
				}
			}
		})
	}

	rng := rand.New(rand.NewPCG(3, 4))
	for next := 1; next <= events; {
		n := min(1+rng.IntN(4), events-next+1)
		batch := make([]int, n)
		for i := range batch {
			batch[i] = next + i
		}
		next += n
		b.Append(batch, uint64(n))
		progress()
		for range rng.IntN(30) { // let readers catch up and block, sometimes
			runtime.Gosched()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestBuffer_ReadersRaceWithLagEnforcement runs slow readers against a
// sweeper that enforces their limits, checking that whatever a reader is
// given stays in order and that every gap is reported.
func TestBuffer_ReadersRaceWithLagEnforcement(t *testing.T) {
	const events = 20000
	b := New[int](Retention{MaxMessages: 100})
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()

	var wg sync.WaitGroup
	for i := range 20 {
		policy := LagSkip
		if i%2 == 0 {
			policy = LagDisconnect
		}
		r, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 50, Policy: policy})
		wg.Go(func() {
			defer r.Close()
			var seen uint64
			for {
				batch, err := r.Next(ctx)
				if err != nil {
					return // cut off, or the buffer ended
				}
				if batch.FirstSeq != seen+batch.Missed+1 {
					t.Errorf("after %d with %d missed, got %d", seen, batch.Missed, batch.FirstSeq)
					return
				}
				seen = batch.FirstSeq + uint64(len(batch.Events)) - 1
				for range i { // the higher i, the slower the reader
					runtime.Gosched()
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			b.EnforceLag()
			runtime.Gosched()
		}
	})
	appendN(b, 1, events)
	b.AppendErr(io.EOF) // ends the readers that were skipped to the head
	waitFor(t, "every reader to finish", func() bool { return b.Readers() == 0 })
	cancel()
	wg.Wait()
}
