package fanout_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
)

// BenchmarkSubscriptionNext measures in-process delivery: each op appends
// 16,384 messages in batches of 256 (as ingest appends under load), and
// subs subscriptions, each a goroutine, read all of them. ns/delivery is
// wall time over all subscriptions: with more subscriptions than CPUs, a
// flat ns/delivery means a delivery costs the same whatever their number.
func BenchmarkSubscriptionNext(b *testing.B) {
	const round, batchSize = 16384, 256
	for _, subs := range []int{1, 10, 200} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			h, err := fanout.NewHub([]string{"bench.>"},
				fanout.WithRetention(buffer.Retention{MaxMessages: round}),
				fanout.WithLagLimit(buffer.Lag{MaxMessages: 2 * round}))
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			ctx := context.Background()
			readers := make([]*fanout.Subscription, subs)
			for i := range readers {
				if readers[i], err = h.Subscribe(ctx, "bench.x"); err != nil {
					b.Fatal(err)
				}
			}
			// Readers are done with a round's messages before the next
			// round appends them again.
			msgs := make([]fanout.Incoming, round)
			for i := range msgs {
				msgs[i] = fanout.Incoming{Subject: "bench.x", Data: make([]byte, 128)}
			}

			var wg sync.WaitGroup
			for b.Loop() {
				for _, sub := range readers {
					wg.Go(func() {
						for range round {
							if _, err := sub.Next(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				for i := 0; i < round; i += batchSize {
					h.Streams()[0].Append(time.Now(), msgs[i:i+batchSize]...)
				}
				wg.Wait()
			}
			deliveries := float64(b.N) * round * float64(subs)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
			b.ReportMetric(deliveries/b.Elapsed().Seconds()/1e6, "Mdeliveries/s")
		})
	}
}
