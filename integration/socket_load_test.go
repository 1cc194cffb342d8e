package integration

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
)

// TestSocket_ThousandConsumersEachReceiveTheWholeBurstInOrder connects 1,000
// stock clients to the socket and publishes a burst upstream.
func TestSocket_ThousandConsumersEachReceiveTheWholeBurstInOrder(t *testing.T) {
	const consumers, burst = 1000, 200
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"burst.>"}, fanout.ServerConfig{})

	subs := make([]*nats.Subscription, consumers)
	for i := range subs {
		nc := dialSocket(t, sc.path)
		sub, err := nc.SubscribeSync("burst.>")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
	}
	waitSubscribers(t, sc, consumers)
	pub := connect(t, up.ClientURL())
	for i := range burst {
		if err := pub.PublishMsg(msg("burst.x", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	// Wait for each consumer only once the burst is out: connecting a
	// thousand of them can take a while on a busy machine.
	var wg sync.WaitGroup
	errs := make(chan string, consumers)
	for _, sub := range subs {
		wg.Go(func() {
			for i := range burst {
				m, err := sub.NextMsg(time.Minute)
				if err != nil {
					errs <- fmt.Sprintf("message %d of %d: %v", i, burst, err)
					return
				}
				if m.Header.Get("Index") != itoa(i) {
					errs <- "out of order: got " + m.Header.Get("Index") + ", want " + itoa(i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// rawClient is a client speaking the protocol by hand, for what stock
// clients never send.
type rawClient struct {
	net.Conn
	r *bufio.Reader
}

// dialRaw connects to the Unix socket at path and reads the server's INFO.
func dialRaw(t *testing.T, path string) *rawClient {
	t.Helper()
	return dialRawTo(t, "unix", path)
}

// dialRawTo connects to addr on network ("unix" or "tcp") and reads the
// server's INFO.
func dialRawTo(t *testing.T, network, addr string) *rawClient {
	t.Helper()
	rc := dialRawNoInfo(t, network, addr)
	if line := rc.line(t); !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first line %q, want INFO", line)
	}
	return rc
}

// dialRawNoInfo connects without reading the server's INFO.
func dialRawNoInfo(t *testing.T, network, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{Conn: c, r: bufio.NewReader(c)}
}

func (rc *rawClient) send(t *testing.T, s string) {
	t.Helper()
	if _, err := rc.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// line reads one line, without its CRLF.
func (rc *rawClient) line(t *testing.T) string {
	t.Helper()
	_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (so far %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// closedAfter reads until the server closes the connection and returns the
// last line it sent.
func (rc *rawClient) closedAfter(t *testing.T) string {
	t.Helper()
	_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
	last := ""
	for {
		l, err := rc.r.ReadString('\n')
		if strings.TrimSpace(l) != "" {
			last = strings.TrimRight(l, "\r\n")
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server did not close the connection; last line %q", last)
			}
			return last
		}
	}
}

// TestSocket_BadInputClosesOnlyThatConnection sends what a broken client
// might: each gets nats-server's -ERR and is closed, while a stock consumer
// on another connection keeps receiving.
func TestSocket_BadInputClosesOnlyThatConnection(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"live.>"},
		fanout.ServerConfig{MaxControlLine: 1024, MaxPayload: 4096, ConnectTimeout: 300 * time.Millisecond})
	good := dialSocket(t, sc.path)
	goodSub, err := good.SubscribeSync("live.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Flush(); err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, sc, 1)
	pub := connect(t, up.ClientURL())
	next := 0
	stillReceiving := func() {
		t.Helper()
		publishAll(t, pub, msg("live.x", next))
		if m := nextMsg(t, goodSub); m.Header.Get("Index") != itoa(next) {
			t.Fatalf("good consumer got %s, want %d", m.Header.Get("Index"), next)
		}
		next++
	}

	tests := []struct {
		name, send, wantLast string
	}{
		{"garbage", "CONNECT {}\r\nHELLO WORLD\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"oversize control line", "CONNECT {}\r\nSUB " + strings.Repeat("a", 2000) + " 1\r\n", "-ERR 'maximum control line exceeded'"},
		{"oversize payload", "CONNECT {}\r\nPUB live.x 100000\r\n", "-ERR 'Maximum Payload Violation'"},
		{"payload without its CRLF", "CONNECT {}\r\nPUB live.x 2\r\nabXY\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"nothing after connecting", "", "-ERR 'Authentication Timeout'"},
		{"binary noise", "\x00\x01\x02\xff\xfe\r\n", "-ERR 'Unknown Protocol Operation'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, sc.path)
			if tt.send != "" {
				rc.send(t, tt.send)
			}
			if last := rc.closedAfter(t); last != tt.wantLast {
				t.Fatalf("last line before close %q, want %q", last, tt.wantLast)
			}
			stillReceiving()
		})
	}

	t.Run("truncated frame then hang up", func(t *testing.T) {
		rc := dialRaw(t, sc.path)
		rc.send(t, "CONNECT {}\r\nSUB live.> 1\r\nPUB live.x 10\r\nabc")
		rc.Close()
		stillReceiving()
	})
}

// TestSocket_StuckConsumerIsCutOffAndMemoryStaysBounded has one consumer
// subscribe and never read. It is cut off at its lag limit while another
// consumer on the same subject receives everything, and the process heap
// stays far below what was published.
func TestSocket_StuckConsumerIsCutOffAndMemoryStaysBounded(t *testing.T) {
	const n, size = 40_000, 1024 // 40 MB published
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"load.>"},
		fanout.ServerConfig{WriteDeadline: time.Second},
		fanout.WithRetention(buffer.Retention{MaxMessages: 1000}),
		fanout.WithLagLimit(buffer.Lag{MaxMessages: 2000}),
		fanout.WithSweepInterval(10*time.Millisecond))

	stuck := dialRaw(t, sc.path)
	stuck.send(t, "CONNECT {\"verbose\":false}\r\nSUB load.> 1\r\n")
	reader := dialSocket(t, sc.path)
	var count atomic.Int64
	subscribeAll(t, reader, "load.>", "", func(*nats.Msg) { count.Add(1) })
	waitSubscribers(t, sc, 2)

	// Publish in rounds smaller than the lag limit, each once the reading
	// consumer has caught up, so that only the stuck one falls behind.
	pub := connect(t, up.ClientURL())
	payload := make([]byte, size)
	var peak uint64
	const round = 1000
	for sent := round; sent <= n; sent += round {
		for range round {
			if err := pub.Publish("load.x", payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the reading consumer to catch up", func() bool { return count.Load() == int64(sent) })
		if sent%10_000 == 0 {
			peak = max(peak, heapAfterGC())
		}
	}
	stuck.closedAfter(t) // the server closes it; the -ERR may not get through a full socket
	if st := sc.srv.Stats(); st.Closed[fanout.CloseSlowConsumer] != 1 {
		t.Fatalf("slow consumer closes = %d, want 1 (%+v)", st.Closed[fanout.CloseSlowConsumer], st)
	}
	// What must stay alive: the window (1,000), the stuck consumer's lag
	// limit (2,000) and what ingest and the reader have in flight, about
	// 4 MB at 1 KiB; 40 MB went through.
	if peak > 24<<20 {
		t.Fatalf("heap peaked at %d MiB while a consumer was stuck", peak>>20)
	}
	t.Logf("heap peak %d MiB for %d MiB published", peak>>20, n*size>>20)
}

// heapAfterGC returns the live heap. It collects twice: sync.Pool keeps
// what was put back through one collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestSocket_AConsumerThatReadsIsNotStuck has a consumer read steadily but
// slower than one write of natsfan's can go: the write deadline is for a
// consumer that takes nothing at all, so this one must receive everything
// without being cut off.
func TestSocket_AConsumerThatReadsIsNotStuck(t *testing.T) {
	const n, size = 1000, 1024
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"load.>"},
		fanout.ServerConfig{WriteDeadline: 200 * time.Millisecond})
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false}\r\nSUB load.x 1\r\n")
	rc.pingPong(t)
	publishN(t, connect(t, up.ClientURL()), "load.x", n, make([]byte, size))

	// 16 KiB every 20 ms, about 800 KB/s: a 512 KiB write takes 0.6 s.
	pace := time.NewTicker(20 * time.Millisecond) // the reader's pace, not synchronisation
	defer pace.Stop()
	want := n * (len("MSG load.x 1 1024\r\n") + size + 2)
	buf := make([]byte, 16<<10)
	for got := 0; got < want; {
		<-pace.C
		_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := rc.r.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v (closed as: %v)", got, want, err, sc.srv.Stats().Closed)
		}
		got += k
	}
	if cut := sc.srv.Stats().Closed[fanout.CloseSlowConsumer]; cut != 0 {
		t.Fatalf("%d connections closed as slow consumers", cut)
	}
}

// TestSocket_AConsumerThatTakesNothingIsCutAtTheWriteDeadline has a
// consumer stop reading within its lag limit: it is cut off once a write to
// it has made no progress for the write deadline.
func TestSocket_AConsumerThatTakesNothingIsCutAtTheWriteDeadline(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"load.>"},
		fanout.ServerConfig{WriteDeadline: 300 * time.Millisecond})
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false}\r\nSUB load.x 1\r\n")
	rc.pingPong(t)
	// 2 MB: more than the socket and the queue hold, well within the lag limit.
	publishN(t, connect(t, up.ClientURL()), "load.x", 2000, make([]byte, 1024))
	waitFor(t, "the stuck consumer to be cut off", func() bool {
		return sc.srv.Stats().Closed[fanout.CloseSlowConsumer] == 1
	})
}

// TestSocket_AQueueGroupOverSeveralStreamsIsCutOffAtItsLagLimit has the
// only member of a queue group that reads two configured subjects stop
// reading: the group falls behind, and its member is cut off at the lag
// limit, not left until the write deadline.
func TestSocket_AQueueGroupOverSeveralStreamsIsCutOffAtItsLagLimit(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"a.>", "b.>"},
		fanout.ServerConfig{WriteDeadline: time.Minute},
		lagLimit(100), fanout.WithSweepInterval(10*time.Millisecond))
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false}\r\nSUB > workers 1\r\n")
	rc.pingPong(t)
	// 3 MB: more than the socket and the queue hold, and far past the lag limit.
	publishN(t, connect(t, up.ClientURL()), "a.x", 3000, make([]byte, 1024))
	waitFor(t, "the member to be cut off", func() bool {
		return sc.srv.Stats().Closed[fanout.CloseSlowConsumer] == 1
	})
}
