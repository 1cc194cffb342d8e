package integration

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/natsfan/natsfan/fanout"
)

// nextMsg waits for the next message of a synchronous subscription.
func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("NextMsg on %s: %v", sub.Subject, err)
	}
	return m
}

// waitSubscribers waits until the socket server has n subscriptions, so that what is
// published next reaches them.
func waitSubscribers(t *testing.T, sc *socketSidecar, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d subscriptions on the socket", n), func() bool { return sc.srv.Stats().Subscriptions == n })
}

// TestSocket_StockClientsReceiveOverUnixSocketAndTCP subscribes with * and >
// over both transports and checks that headers, reply subjects and payloads
// arrive byte for byte.
func TestSocket_StockClientsReceiveOverUnixSocketAndTCP(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	for name, nc := range map[string]*nats.Conn{
		"unix": dialSocket(t, sc.path),
		"tcp":  connect(t, sc.tcp),
	} {
		t.Run(name, func(t *testing.T) {
			star, err := nc.SubscribeSync("orders.*.new")
			if err != nil {
				t.Fatal(err)
			}
			all, err := nc.SubscribeSync("orders.>")
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if rtt, err := nc.RTT(); err != nil || rtt <= 0 {
				t.Fatalf("RTT = %v, %v", rtt, err)
			}
			waitSubscribers(t, sc, 2)

			sent := nats.NewMsg("orders.eu.new")
			sent.Reply = "inbox.42"
			sent.Header.Set("Trace-Id", "abc 123")
			sent.Header.Add("Multi", "one")
			sent.Header.Add("Multi", "two")
			sent.Data = []byte("payload\r\nwith CRLF and \x00 bytes")
			publishAll(t, connect(t, up.ClientURL()), sent, msg("orders.us.paid", 1))

			for _, sub := range []*nats.Subscription{star, all} {
				got := nextMsg(t, sub)
				if got.Subject != sent.Subject || got.Reply != sent.Reply || string(got.Data) != string(sent.Data) {
					t.Fatalf("%s: got %s %s %q", sub.Subject, got.Subject, got.Reply, got.Data)
				}
				if fmt.Sprint(got.Header) != fmt.Sprint(sent.Header) {
					t.Fatalf("%s: headers %v, want %v", sub.Subject, got.Header, sent.Header)
				}
			}
			if got := nextMsg(t, all); got.Subject != "orders.us.paid" {
				t.Fatalf("orders.>: second message %s", got.Subject)
			}
			if m, err := star.NextMsg(50 * time.Millisecond); err == nil {
				t.Fatalf("orders.*.new received %s", m.Subject)
			}
			star.Unsubscribe()
			all.Unsubscribe()
			waitSubscribers(t, sc, 0)
		})
	}
}

func TestSocket_QueueGroupMembersShareTheMessages(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"jobs.>"}, fanout.ServerConfig{})
	var mu sync.Mutex
	seen := map[string]int{}
	perMember := make([]int, 3)
	for i := range perMember {
		nc := dialSocket(t, sc.path)
		if _, err := nc.QueueSubscribe("jobs.>", "workers", func(m *nats.Msg) {
			mu.Lock()
			seen[string(m.Data)]++
			perMember[i]++
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	waitSubscribers(t, sc, 3)
	const n = 300
	up2 := connect(t, up.ClientURL())
	for i := range n {
		publishAll(t, up2, msg("jobs.run", i))
	}
	waitFor(t, "every job to be delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	mu.Lock()
	defer mu.Unlock()
	for job, times := range seen {
		if times != 1 {
			t.Fatalf("job %s delivered %d times", job, times)
		}
	}
	t.Logf("jobs per member: %v", perMember)
}

func TestSocket_UnsubscribeWithAMaximum(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"tick"}, fanout.ServerConfig{})
	nc := dialSocket(t, sc.path)
	sub, err := nc.SubscribeSync("tick")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.AutoUnsubscribe(3); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, sc, 1)
	pub := connect(t, up.ClientURL())
	for i := range 5 {
		publishAll(t, pub, msg("tick", i))
	}
	for range 3 {
		nextMsg(t, sub)
	}
	waitSubscribers(t, sc, 0)

	// nats.go itself drops what arrives past the maximum, so a raw client
	// shows what natsfan sends: three messages, then nothing.
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false}\r\nSUB tick 1\r\nUNSUB 1 3\r\nPING\r\n")
	if l := nextNonPing(t, rc); l != "PONG" {
		t.Fatalf("got %q, want PONG", l)
	}
	waitSubscribers(t, sc, 1)
	for i := range 5 {
		publishAll(t, pub, msg("tick", i))
	}
	for i := range 3 {
		if l := nextNonPing(t, rc); !strings.HasPrefix(l, "MSG tick 1 ") {
			t.Fatalf("message %d: got %q, want a MSG", i+1, l)
		}
		rc.line(t) // its payload
	}
	waitSubscribers(t, sc, 0)
	rc.send(t, "PING\r\n")
	if l := nextNonPing(t, rc); l != "PONG" {
		t.Fatalf("after the third message got %q, want PONG: a fourth was sent", l)
	}
}

// TestSocket_PermissionViolationsReachTheClientsErrorCallback subscribes to a
// subject natsfan does not ingest and publishes: both are refused as
// nats-server refuses them, and the connection stays usable.
func TestSocket_PermissionViolationsReachTheClientsErrorCallback(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	errs := make(chan error, 10)
	nc := dialSocket(t, sc.path, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if _, err := nc.SubscribeSync("prices.*"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("orders.new", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Subscription to "prices.*"`, `Publish to "orders.new"`} {
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error callback got %v, want a permissions violation for %s", err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no error for %s", want)
		}
	}
	ok, err := nc.SubscribeSync("orders.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, sc, 1)
	publishAll(t, connect(t, up.ClientURL()), msg("orders.new", 1))
	nextMsg(t, ok)
	if !nc.IsConnected() {
		t.Fatal("the connection was closed")
	}
}

// TestSocket_QueueMemberThatLeavesFreesItsConnection has a member leave
// while another waits on a quiet subject: its connection, and everything
// it held, must go at once, and the next message goes to the member left.
func TestSocket_QueueMemberThatLeavesFreesItsConnection(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"jobs.>"}, fanout.ServerConfig{})
	stay := dialSocket(t, sc.path)
	got, err := stay.QueueSubscribeSync("jobs.quiet", "workers")
	if err != nil {
		t.Fatal(err)
	}
	if err := stay.Flush(); err != nil {
		t.Fatal(err)
	}
	leave := dialSocket(t, sc.path)
	if _, err := leave.QueueSubscribeSync("jobs.quiet", "workers"); err != nil {
		t.Fatal(err)
	}
	if err := leave.Flush(); err != nil {
		t.Fatal(err)
	}
	leave.Close()
	waitFor(t, "the leaving member's connection to close", func() bool { return sc.srv.Stats().Connections == 1 })

	publishAll(t, connect(t, up.ClientURL()), msg("jobs.quiet", 1))
	if m := nextMsg(t, got); string(m.Data) != "jobs.quiet #1" {
		t.Fatalf("the member left got %q", m.Data)
	}
}

// TestSocket_DeliveredCountsWhatReachedTheSocket has a consumer stop
// reading: natsfan_messages_delivered_total must count no message still
// queued in natsfan, only what the socket took, and every message once the
// consumer has read them all.
func TestSocket_DeliveredCountsWhatReachedTheSocket(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"load.>"}, fanout.ServerConfig{WriteDeadline: time.Minute})
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false}\r\nSUB load.x 1\r\n")
	rc.pingPong(t)

	const n, size = 5000, 1024 // 5 MB: more than the socket holds
	frame := len("MSG load.x 1 1024\r\n") + size + len("\r\n")
	publishAll(t, connect(t, up.ClientURL()), func() []*nats.Msg {
		msgs := make([]*nats.Msg, n)
		for i := range msgs {
			msgs[i] = &nats.Msg{Subject: "load.x", Data: make([]byte, size)}
		}
		return msgs
	}()...)

	waitSocketFull(t, rc)
	delivered := sc.srv.Stats().Delivered
	if held := socketInQueue(t, rc) / frame; int(delivered) > held {
		t.Errorf("%d messages counted as delivered while the socket holds %d: the rest are still queued in natsfan", delivered, held)
	}

	got := 0
	for got < n {
		if l := rc.line(t); strings.HasPrefix(l, "MSG ") {
			got++
			if _, err := rc.r.Discard(size + 2); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every message to count as delivered", func() bool { return sc.srv.Stats().Delivered == n })
}

// waitSocketFull waits until natsfan can write no more to rc: what rc's
// socket holds for it to read has stopped growing.
func waitSocketFull(t *testing.T, rc *rawClient) {
	t.Helper()
	last := -1
	waitFor(t, "the socket to fill", func() bool {
		now := socketInQueue(t, rc)
		full := now == last && now > 0
		last = now
		return full
	})
}

// socketInQueue returns how many bytes wait in rc's socket for it to read.
func socketInQueue(t *testing.T, rc *rawClient) int {
	t.Helper()
	raw, err := rc.Conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioctlErr error
	if err := raw.Control(func(fd uintptr) { n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if ioctlErr != nil {
		t.Fatal(ioctlErr)
	}
	return n
}
