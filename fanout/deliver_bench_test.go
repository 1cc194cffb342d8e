package fanout

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
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
			b.Run(fmt.Sprintf("size=%d/N=%d", size, n), func(b *testing.B) { benchmarkDeliver(b, n, size) })
		}
	}
}

func benchmarkDeliver(b *testing.B, consumers, size int) {
	srv, path := serveHub(b, []string{"s.>"}, ServerConfig{})

	const batch, ahead = 64, 64
	frame := len(fmt.Sprintf("MSG s.x 1 %d\r\n", size)) + size + 2
	received := make([]atomic.Int64, consumers)
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
		if _, err := io.WriteString(nc, "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB s.x 1\r\nPING\r\n"); err != nil {
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
				if err != nil {
					return
				}
			}
		}()
	}

	st := srv.hub.Streams()[0]
	msgs := make([]Incoming, batch)
	for i := range msgs {
		msgs[i] = Incoming{Subject: "s.x", Data: make([]byte, size)}
	}
	slowest := func() int64 {
		low := received[0].Load()
		for i := range received {
			low = min(low, received[i].Load())
		}
		return low
	}
	batches := (b.N + batch - 1) / batch
	b.ResetTimer()
	for k := range batches {
		for slowest() < int64(k-ahead)*int64(batch*frame) {
			runtime.Gosched()
		}
		st.Append(time.Now(), msgs...)
	}
	want := int64(batches * batch * frame)
	deadline := time.Now().Add(time.Minute)
	for slowest() < want {
		if time.Now().After(deadline) {
			b.Fatalf("the slowest consumer received %d bytes of %d", slowest(), want)
		}
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batches*batch*consumers), "ns/delivery")
}
