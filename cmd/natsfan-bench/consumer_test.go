package main

import "testing"

// BenchmarkConsumerReceive measures what the consumer code of every mode
// does per delivery (read the clock, record the latency, count), apart
// from what delivers the message: with N consumers on 2 CPUs, it bounds the
// aggregate rate any mode can reach in this program.
func BenchmarkConsumerReceive(b *testing.B) {
	var c consumer
	payload := make([]byte, 128)
	stamp(payload, phaseThroughput)
	for b.Loop() {
		c.receive(payload)
	}
}
