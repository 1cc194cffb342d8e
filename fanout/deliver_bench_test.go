package fanout

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkServer_Deliver measures what a delivery to a socket consumer
// costs the Server, from Stream.Append to the bytes written: N raw clients
// subscribe to one subject of the stream and read everything into
// io.Discard; ns/op is per delivery (message × consumer). Batches of 64
// messages, as ingest makes under load; the appender stays at most 64
// batches ahead of the slowest consumer, so nothing is cut off.
func BenchmarkServer_Deliver(b *testing.B) {
	for _, size := range []int{128, 4096} {
		for _, n := range []int{1, 10, 50, 200} {
			b.Run(fmt.Sprintf("size=%d/N=%d", size, n), func(b *testing.B) { benchmarkDeliver(b, n, size, 64, false) })
		}
	}
}

// BenchmarkServer_DeliverOwnSubjects is BenchmarkServer_Deliver where each
// consumer subscribes to a subject of its own in the stream (s.0, s.1…),
// and the messages of a batch go to them in turn: a stream buffering a
// wildcard, read by processes that each want part of it. batch=1 is a
// stream at a moderate rate, where ingest appends each message alone.
// ns/delivery stays near BenchmarkServer_Deliver's at N=1 when natsfan
// routes each message to the consumers that want it, and grows with N when
// every consumer looks at every message.
func BenchmarkServer_DeliverOwnSubjects(b *testing.B) {
	for _, batch := range []int{1, 64} {
		for _, n := range []int{1, 10, 100, 1000} {
			b.Run(fmt.Sprintf("batch=%d/N=%d", batch, n), func(b *testing.B) { benchmarkDeliver(b, n, 128, batch, true) })
		}
	}
}

// benchmarkDeliver runs N consumers of size-byte messages appended in
// batches of batch; with own, consumer i subscribes to s.i and message j
// goes to s.(j mod N); otherwise all of them subscribe to s.x.
func benchmarkDeliver(b *testing.B, consumers, size, batch int, own bool) {
	srv, path := serveHub(b, []string{"s.>"}, ServerConfig{IdleAfter: benchIdleAfter})

	const ahead = 64
	subject := func(i int) string {
		if own {
			return fmt.Sprintf("s.%d", i%consumers)
		}
		return "s.x"
	}
	frame := func(i int) int64 { return int64(len(fmt.Sprintf("MSG %s 1 %d\r\n", subject(i), size)) + size + 2) }
	received := make([]atomic.Int64, consumers)
	progress := make(chan struct{}, 1) // a consumer read something: the appender waits for it rather than spin
	for i := range consumers {
		nc, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		r := bufio.NewReader(nc)
		if _, err := r.ReadString('\n'); err != nil { // INFO
			b.Fatal(err)
		}
		if _, err := fmt.Fprintf(nc, "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB %s 1\r\nPING\r\n", subject(i)); err != nil {
			b.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
			b.Fatalf("read %q, %v; want PONG", line, err)
		}
		go func() {
			buf := make([]byte, 64<<10)
			for {
				k, err := r.Read(buf)
				received[i].Add(int64(k))
				select {
				case progress <- struct{}{}:
				default:
				}
				if err != nil {
					return
				}
			}
		}()
	}

	st := srv.hub.Streams()[0]
	// Message j of the benchmark is ring[j % len(ring)], for consumer
	// j % consumers when own.
	ring := make([]Incoming, batch*consumers)
	for j := range ring {
		ring[j] = Incoming{Subject: subject(j), Data: make([]byte, size)}
	}
	batches := (b.N + batch - 1) / batch
	want := make([]int64, consumers) // what consumer i has received once the last batch is read
	for i := range want {
		messages := batches * batch
		if own {
			messages = messages / consumers
			if i < batches*batch%consumers {
				messages++
			}
		}
		want[i] = int64(messages) * frame(i)
	}
	// behind reports whether some consumer has yet to read the first
	// messages messages: in proportion to what it receives in all. When
	// own, only the consumer that message number messages goes to is
	// asked, so that pacing costs the same for any number of consumers.
	behind := func(messages int) bool {
		if own {
			if messages <= 0 {
				return false
			}
			i := (messages - 1) % consumers
			return received[i].Load() < int64((messages-1)/consumers+1)*frame(i)
		}
		for i := range received {
			if received[i].Load() < want[i]*int64(messages)/int64(batches*batch) {
				return true
			}
		}
		return false
	}
	// The appender stays ahead messages in front of the slowest consumer.
	lead := ahead * batch
	b.ResetTimer()
	for k := range batches {
		for behind(k*batch - lead) {
			<-progress
		}
		first := k * batch % len(ring)
		st.Append(time.Now(), ring[first:first+batch]...)
	}
	done := func() bool {
		for i := range received {
			if received[i].Load() < want[i] {
				return false
			}
		}
		return true
	}
	deadline := time.After(time.Minute)
	for !done() {
		select {
		case <-progress:
		case <-deadline:
			b.Fatalf("consumers received %d bytes of %d", received[0].Load(), want[0])
		}
	}
	b.StopTimer()
	deliveries := batches * batch * consumers
	if own {
		deliveries = batches * batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deliveries), "ns/delivery")

}

var benchIdleAfter = func() time.Duration { d, _ := time.ParseDuration(os.Getenv("BENCH_IDLE")); return d }()
