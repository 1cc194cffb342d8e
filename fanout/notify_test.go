package fanout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// idleClient is a raw client of a Server whose connections give their
// writer and feed goroutines up after a millisecond without traffic.
type idleClient struct {
	srv *Server
	hub *Hub
	nc  net.Conn
	r   *bufio.Reader
}

func newIdleClient(t *testing.T) *idleClient {
	t.Helper()
	return newClientIdleAfter(t, time.Millisecond)
}

// newClientIdleAfter is newIdleClient with a server whose connections give
// their goroutines up after idleAfter.
func newClientIdleAfter(t *testing.T, idleAfter time.Duration) *idleClient {
	t.Helper()
	srv, path := serveHub(t, []string{"s.>"}, ServerConfig{IdleAfter: idleAfter})
	return dialIdleClient(t, srv, path)
}

// dialIdleClient connects another client to srv, listening on path.
func dialIdleClient(t *testing.T, srv *Server, path string) *idleClient {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &idleClient{srv: srv, hub: srv.hub, nc: nc, r: bufio.NewReader(nc)}
	c.expect(t, "INFO ")
	return c
}

func (c *idleClient) send(t *testing.T, s string) {
	t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// expect reads a line and fails unless it starts with prefix.
func (c *idleClient) expect(t *testing.T, prefix string) string {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("waiting for %q: %v", prefix, err)
	}
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("read %q, want %q…", line, prefix)
	}
	return line
}

// conn returns the server's side of the client's connection, the only one
// of its server.
func (c *idleClient) conn(t *testing.T) *conn { return c.named(t, "") }

// named returns the server's side of the connection whose CONNECT gave
// name.
func (c *idleClient) named(t *testing.T, name string) *conn {
	t.Helper()
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	for sc := range c.srv.conns {
		sc.mu.Lock()
		got := sc.client.name
		sc.mu.Unlock()
		if got == name {
			return sc
		}
	}
	t.Fatalf("no connection named %q", name)
	return nil
}

// waitIdle waits until the connection has given up its writer and its
// feeds' goroutines.
func waitIdle(t *testing.T, sc *conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc.mu.Lock()
		idle := !sc.writing.Load()
		for _, f := range sc.feeds {
			idle = idle && !f.running.Load()
		}
		sc.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			sc.mu.Lock()
			state := fmt.Sprintf("writer running %v", sc.writing.Load())
			for _, f := range sc.feeds {
				lag, _ := f.sub.Lag()
				state += fmt.Sprintf(", feed running %v, lag %d, read %d, head %d", f.running.Load(), lag, f.sub.readers[0].reader.Seq(), f.stream.buf.Head().Seq())
			}
			sc.mu.Unlock()
			t.Fatalf("the connection's writer or feed never stopped: %s", state)
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
}

// TestConn_IdleConnectionsWakeForEveryMessage lets a consumer's writer and
// feed go idle before each message, so that every message is delivered by
// goroutines started for it: none is lost or held back.
func TestConn_IdleConnectionsWakeForEveryMessage(t *testing.T) {
	c := newIdleClient(t)
	c.send(t, "CONNECT {\"verbose\":false}\r\nSUB s.x 1\r\nPING\r\n")
	c.expect(t, "PONG")
	sc := c.conn(t)
	for i := range 200 {
		waitIdle(t, sc)
		c.hub.Streams()[0].Append(time.Now(), Incoming{Subject: "s.x", Data: fmt.Appendf(nil, "%d", i)})
		want := fmt.Sprintf("MSG s.x 1 %d\r\n", len(fmt.Sprint(i)))
		if got := c.expect(t, "MSG "); got != want {
			t.Fatalf("message %d: %q, want %q", i, got, want)
		}
		if got := c.expect(t, fmt.Sprint(i)); got != fmt.Sprint(i)+"\r\n" {
			t.Fatalf("message %d: payload %q", i, got)
		}
	}
}

// TestConn_AParkedFeedLeavesItsRouterWithItsLastSUB unsubscribes a
// connection whose feed has parked: the stream's router lets go of it.
func TestConn_AParkedFeedLeavesItsRouterWithItsLastSUB(t *testing.T) {
	c, _ := newParkedClient(t)
	r := c.srv.routers[c.hub.Streams()[0]]
	if n := r.routes.count(); n != 1 {
		t.Fatalf("%d SUBs routed, want 1", n)
	}
	c.send(t, "UNSUB 1\r\nPING\r\n")
	c.expect(t, "PONG")
	if n := r.routes.count(); n != 0 {
		t.Fatalf("%d SUBs routed after the last UNSUB, want 0", n)
	}
}

// TestConn_ASUBToAQuietSubjectStartsNoGoroutine subscribes on a server
// whose goroutines linger for an hour: the new feed starts parked, with no
// goroutine of its own, and the first message starts one.
func TestConn_ASUBToAQuietSubjectStartsNoGoroutine(t *testing.T) {
	c := newClientIdleAfter(t, time.Hour)
	c.send(t, "CONNECT {\"verbose\":false}\r\nSUB s.x 1\r\nPING\r\n")
	c.expect(t, "PONG")
	sc := c.conn(t)
	st := c.hub.Streams()[0]
	sc.mu.Lock()
	running := sc.feeds[st].running.Load()
	sc.mu.Unlock()
	if running {
		t.Fatal("a SUB to a subject with nothing new started a goroutine")
	}
	st.Append(time.Now(), Incoming{Subject: "s.x", Data: []byte("hi")})
	c.expect(t, "MSG s.x 1 2")
	c.expect(t, "hi")
}

// TestConn_AMessageStartsOnlyTheParkedFeedsThatWantIt subscribes two
// clients to different subjects of a stream, on a server whose goroutines
// linger for an hour, and appends two messages for one of them, one after
// the other has arrived: the other client's feed stays parked, with no
// goroutine, as a message of another subject is nothing to it.
func TestConn_AMessageStartsOnlyTheParkedFeedsThatWantIt(t *testing.T) {
	srv, path := serveHub(t, []string{"s.>"}, ServerConfig{IdleAfter: time.Hour})
	busy, quiet := dialIdleClient(t, srv, path), dialIdleClient(t, srv, path)
	busy.send(t, "CONNECT {\"verbose\":false,\"name\":\"busy\"}\r\nSUB s.busy 1\r\nPING\r\n")
	busy.expect(t, "PONG")
	quiet.send(t, "CONNECT {\"verbose\":false,\"name\":\"quiet\"}\r\nSUB s.quiet 1\r\nPING\r\n")
	quiet.expect(t, "PONG")
	st := busy.hub.Streams()[0]
	// The router takes the messages one after the other: by the time the
	// second arrives, it is done with the first.
	for range 2 {
		st.Append(time.Now(), Incoming{Subject: "s.busy", Data: []byte("hi")})
		busy.expect(t, "MSG s.busy 1 2")
		busy.expect(t, "hi")
	}
	sc := quiet.named(t, "quiet")
	sc.mu.Lock()
	running := sc.feeds[st].running.Load()
	sc.mu.Unlock()
	if running {
		t.Fatal("messages of another subject started the quiet client's feed")
	}
}

// TestConn_AFeedWaitingForItsRouterEndsWithItsLastSUB has a feed wait for
// its router, as it does once it has read a message of another subject,
// and unsubscribes: the feed's goroutine ends.
func TestConn_AFeedWaitingForItsRouterEndsWithItsLastSUB(t *testing.T) {
	c := newClientIdleAfter(t, time.Hour)
	c.send(t, "CONNECT {\"verbose\":false}\r\nSUB s.mine 1\r\nPING\r\n")
	c.expect(t, "PONG")
	st := c.hub.Streams()[0]
	st.Append(time.Now(), Incoming{Subject: "s.other", Data: []byte("no")}, Incoming{Subject: "s.mine", Data: []byte("hi")})
	c.expect(t, "MSG s.mine 1 2")
	c.expect(t, "hi")
	sc := c.conn(t)
	sc.mu.Lock()
	f := sc.feeds[st]
	sc.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); !f.awaitsRouter.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the feed never waited for its router")
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}

	c.send(t, "UNSUB 1\r\nPING\r\n")
	c.expect(t, "PONG")
	ended := make(chan struct{})
	go func() {
		sc.feedsRunning.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the feed's goroutine did not end with its last SUB")
	}
}

// TestConn_AWriterThatSentOnlyTheServersFramesStops connects to a server
// whose goroutines linger for an hour: the writer that sent INFO and PONG
// stops at once, as the client is receiving nothing.
func TestConn_AWriterThatSentOnlyTheServersFramesStops(t *testing.T) {
	c := newClientIdleAfter(t, time.Hour)
	c.send(t, "CONNECT {\"verbose\":false}\r\nPING\r\n")
	c.expect(t, "PONG")
	waitIdle(t, c.conn(t))
}

// newParkedClient is an idle client with one SUB, whose feed has parked.
func newParkedClient(t *testing.T) (*idleClient, *conn) {
	t.Helper()
	c := newIdleClient(t)
	c.send(t, "CONNECT {\"verbose\":false}\r\nSUB s.x 1\r\nPING\r\n")
	c.expect(t, "PONG")
	sc := c.conn(t)
	waitIdle(t, sc)
	return c, sc
}

// TestServer_ClosingEndsItsRouters starts Servers on one hub, one after
// the other, each with a consumer, and closes or shuts each down: a Server
// gone leaves its streams no router to hand batches to, and no goroutine.
func TestServer_ClosingEndsItsRouters(t *testing.T) {
	hub, err := NewHub([]string{"s.>"})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	st := hub.Streams()[0]
	running := runtime.NumGoroutine()
	for i := range 4 {
		srv := NewServer(hub, ServerConfig{}, nil)
		path := filepath.Join(t.TempDir(), "s.sock")
		ln, err := ListenUnix(path, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		c := dialIdleClient(t, srv, path)
		c.send(t, "CONNECT {\"verbose\":false}\r\nSUB s.a 1\r\nPING\r\n")
		c.expect(t, "PONG")
		st.Append(time.Now(), Incoming{Subject: "s.a", Data: []byte("hi")})
		c.expect(t, "MSG s.a 1 2")
		if i%2 == 0 {
			srv.Close()
		} else if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve returned %v, want ErrServerClosed", err)
		}
	}
	st.mu.Lock()
	routers := len(st.routers)
	st.mu.Unlock()
	if routers != 0 {
		t.Errorf("the stream hands batches to %d routers of closed Servers", routers)
	}
	waitGoroutines(t, running)
}
