package main

import (
	"time"

	"github.com/nats-io/nats.go"
)

// publisher is the one publisher of every mode: a nats.go connection to the
// upstream publishing size-byte payloads on benchSubject, each stamped with
// its publish time and phase.
type publisher struct {
	nc      *nats.Conn
	payload []byte
}

func newPublisher(url string, size int) (*publisher, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	return &publisher{nc: nc, payload: make([]byte, max(size, payloadHeader))}, nil
}

func (p *publisher) close() { p.nc.Close() }

// publish publishes one message of phase ph. nats.go copies the payload
// into its buffer, so the payload is reused.
func (p *publisher) publish(ph phase) error {
	stamp(p.payload, ph)
	return p.nc.Publish(benchSubject, p.payload)
}

// burst publishes n messages as fast as it can, then flushes.
func (p *publisher) burst(n int, ph phase) error {
	for range n {
		if err := p.publish(ph); err != nil {
			return err
		}
	}
	return p.nc.FlushTimeout(time.Minute)
}

// paced publishes n messages at rate messages per second: each time it
// wakes up it publishes what is due by then, so that the offered rate holds
// even when the timer is coarse. nats.go's flusher goroutine writes each
// message out as soon as it can; paced flushes (waits for the server's PONG)
// once, at the end.
func (p *publisher) paced(n int, rate float64, ph phase) error {
	start := time.Now()
	for sent := 0; sent < n; {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		for ; sent < due; sent++ {
			if err := p.publish(ph); err != nil {
				return err
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return p.nc.FlushTimeout(time.Minute)
}
