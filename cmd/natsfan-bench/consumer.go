package main

import (
	"encoding/binary"
	"sync/atomic"
	"time"
)

// A payload starts with a header the consumers read: the publish time
// (UnixNano, 8 bytes, big-endian) and the phase it belongs to (1 byte).
const payloadHeader = 9

// phase tells which part of a cell a message belongs to.
type phase byte

const (
	phaseWarmup     phase = iota // probes until every consumer receives
	phaseThroughput              // as fast as the publisher can
	phasePaced                   // at the fixed offered rate
	phaseCount
)

// consumer is the code every mode's consumers run for each message they
// receive, whatever delivered it: count it and record its latency, per
// phase. Its methods are safe for concurrent use.
type consumer struct {
	received [phaseCount]atomic.Int64
	latency  [phaseCount]histogram
}

// receive handles one delivered payload.
func (c *consumer) receive(data []byte) {
	now := time.Now().UnixNano()
	if len(data) < payloadHeader {
		return
	}
	p := phase(data[8])
	if p >= phaseCount {
		return
	}
	c.latency[p].record(now - int64(binary.BigEndian.Uint64(data)))
	c.received[p].Add(1)
}

// stamp writes the publish time and phase into payload.
func stamp(payload []byte, p phase) {
	binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
	payload[8] = byte(p)
}

// consumers is the set of one cell's consumers.
type consumers []*consumer

func newConsumers(n int) consumers {
	cs := make(consumers, n)
	for i := range cs {
		cs[i] = new(consumer)
	}
	return cs
}

// received returns the deliveries of phase p over all consumers.
func (cs consumers) received(p phase) int64 {
	var n int64
	for _, c := range cs {
		n += c.received[p].Load()
	}
	return n
}

// allReceived reports whether every consumer has a message of phase p.
func (cs consumers) allReceived(p phase) bool {
	for _, c := range cs {
		if c.received[p].Load() == 0 {
			return false
		}
	}
	return true
}

// latencies returns the p50, p99 and p99.9 latencies of phase p over all
// consumers.
func (cs consumers) latencies(p phase) []time.Duration {
	var sum [histBuckets]uint64
	for _, c := range cs {
		c.latency[p].addTo(&sum)
	}
	return percentiles(&sum, 0.5, 0.99, 0.999)
}
