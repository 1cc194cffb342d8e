package fanout

import (
	"context"
	"errors"
	"sync"

	"github.com/natsfan/natsfan/buffer"
)

// merger reads several streams for one subscription: one goroutine per
// stream reads batches and hands them over a channel, so that Next can wait
// on all the streams at once. Order is kept within each stream; across
// streams, batches come as they arrive. A pump holds at most one batch
// beyond what its reader's lag counts, so lag limits still bound memory.
type merger struct {
	batches chan pumped
	stopped context.Context // done once stop is called
	cancel  context.CancelFunc
	pumps   sync.WaitGroup
	live    int // pumps that have not ended with ErrHubClosed; owned by next

	// cut is closed once a stream's reader has been cut off (its lag
	// limit) or closed, even while its pump waits to hand over a batch:
	// Subscription.stopped, for the socket server.
	cut     chan struct{}
	cutOnce sync.Once
}

type pumped struct {
	from  *streamReader
	batch buffer.Batch[Msg]
	err   error
}

func newMerger(readers []*streamReader) *merger {
	ctx, cancel := context.WithCancel(context.Background())
	m := &merger{batches: make(chan pumped), stopped: ctx, cancel: cancel, live: len(readers), cut: make(chan struct{})}
	for _, sr := range readers {
		m.pumps.Go(func() { m.pump(ctx, sr) })
	}
	return m
}

// pump reads one stream until its reader fails or the merger stops.
func (m *merger) pump(ctx context.Context, sr *streamReader) {
	cut := sr.reader.Done()
	for {
		batch, err := sr.reader.Next(ctx)
		for sent := false; !sent; {
			select {
			case m.batches <- pumped{from: sr, batch: batch, err: err}:
				sent = true
			case <-ctx.Done():
				return
			case <-cut:
				m.cutOnce.Do(func() { close(m.cut) })
				cut = nil
			}
		}
		if err != nil {
			if !errors.Is(err, ErrHubClosed) {
				m.cutOnce.Do(func() { close(m.cut) })
			}
			return
		}
	}
}

// errStopped is what next returns once the merger was stopped: the
// subscription ended, and knows why.
var errStopped = errors.New("fanout: merger stopped")

// next returns the next batch from any stream. A stream that ends because
// the hub closed is done; the subscription sees ErrHubClosed only once every
// stream is done, so that it reads everything the hub held. Any other error
// ends the subscription at once.
func (m *merger) next(ctx context.Context) (*streamReader, buffer.Batch[Msg], error) {
	for {
		select {
		case <-m.stopped.Done():
			return nil, buffer.Batch[Msg]{}, errStopped
		case p := <-m.batches:
			if errors.Is(p.err, ErrHubClosed) {
				if m.live--; m.live > 0 {
					continue
				}
			}
			return p.from, p.batch, p.err
		case <-ctx.Done():
			return nil, buffer.Batch[Msg]{}, ctx.Err()
		}
	}
}

// stop ends the pumps and waits for them.
func (m *merger) stop() {
	m.cancel()
	m.pumps.Wait()
}
