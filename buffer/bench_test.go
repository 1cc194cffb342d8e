package buffer

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// startReaders starts n readers that follow b from its head until ctx ends,
// and waits until they are all parked waiting for the first append.
func startReaders(b *testing.B, buf *Buffer[int], n int, ctx context.Context, wg *sync.WaitGroup) {
	for range n {
		r, _ := buf.NewReader(StartAtHead(), Lag{})
		wg.Go(func() {
			defer r.Close()
			for {
				if _, err := r.Next(ctx); err != nil {
					return
				}
			}
		})
	}
	waitBlocked(b, n)
}

// BenchmarkAppend measures one Append while n readers follow the buffer,
// blocked on the head whenever they have caught up.
func BenchmarkAppend(b *testing.B) {
	for _, readers := range []int{0, 1, 100, 10000} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			buf := New[int](Retention{MaxMessages: 1024})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			startReaders(b, buf, readers, ctx, &wg)
			events := []int{1}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf.Append(events, 128)
			}
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}

// BenchmarkDelivery measures aggregate delivery: one op is one event
// appended and received by every reader, and deliveries/s counts events
// received across all readers. "buffer" is the EventBuffer with one event
// per item; "buffer-batch64" appends 64 events per item, as ingest does when
// that many messages are already pending; "channels" is what a user would
// otherwise write, a buffered channel per reader with the writer sending each
// event to each. All of them deliver every event to every reader.
func BenchmarkDelivery(b *testing.B) {
	for _, readers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("buffer/readers=%d", readers), func(b *testing.B) {
			benchBufferDelivery(b, readers, 1)
		})
		b.Run(fmt.Sprintf("buffer-batch64/readers=%d", readers), func(b *testing.B) {
			benchBufferDelivery(b, readers, 64)
		})
		b.Run(fmt.Sprintf("channels/readers=%d", readers), func(b *testing.B) {
			benchChannelDelivery(b, readers)
		})
	}
}

// benchLag is a lag limit that readers in the benchmarks never reach; it
// makes them pay for checking it, as readers in production do.
var benchLag = Lag{MaxMessages: 1 << 40}

func benchBufferDelivery(b *testing.B, readers, batch int) {
	buf := New[int](Retention{MaxMessages: 1024})
	var wg sync.WaitGroup
	ctx := context.Background()
	events := b.N
	for range readers {
		r, _ := buf.NewReader(StartAtHead(), benchLag)
		wg.Go(func() {
			defer r.Close()
			for got := 0; got < events; {
				batch, err := r.Next(ctx)
				if err != nil {
					panic(err)
				}
				got += len(batch.Events)
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < events; i += batch {
		n := min(batch, events-i)
		items := make([]int, n)
		for j := range items {
			items[j] = i + j
		}
		buf.Append(items, uint64(8*n))
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(readers)*float64(events)/b.Elapsed().Seconds(), "deliveries/s")
}

func benchChannelDelivery(b *testing.B, readers int) {
	chans := make([]chan int, readers)
	var wg sync.WaitGroup
	events := b.N
	for i := range chans {
		ch := make(chan int, 1024)
		chans[i] = ch
		wg.Go(func() {
			for range events {
				<-ch
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range events {
		for _, ch := range chans {
			ch <- i
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(readers)*float64(events)/b.Elapsed().Seconds(), "deliveries/s")
}
