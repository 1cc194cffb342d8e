package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/natsfan/natsfan/ingest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestIngester_AppendsEachPatternsMessagesToItsStreamInOrder(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>", "prices.*")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{})
	pub := connect(t, srv.ClientURL())

	// Interleave the two patterns, with and without reply and headers, and
	// a subject no stream ingests.
	const n = 100
	var orders, prices []*nats.Msg
	for i := range n {
		o := nats.NewMsg(fmt.Sprintf("orders.%d.created", i%3))
		o.Data = fmt.Appendf(nil, "order %d", i)
		if i%2 == 0 {
			o.Reply = fmt.Sprintf("reply.%d", i)
			o.Header.Set("Order-Id", strconv.Itoa(i))
			o.Header.Add("Trace", "a")
			o.Header.Add("Trace", "b")
		} else {
			o.Header = nil
		}
		p := &nats.Msg{Subject: "prices.eur", Data: fmt.Appendf(nil, "price %d", i)}
		orders, prices = append(orders, o), append(prices, p)
		publish(t, pub, o, p, &nats.Msg{Subject: "other.x", Data: []byte("not ingested")})
	}

	for _, tc := range []struct {
		pattern string
		want    []*nats.Msg
	}{{"orders.>", orders}, {"prices.*", prices}} {
		got := newReader(t, hub, tc.pattern).next(n, 10*time.Second)
		for i, m := range got {
			w := tc.want[i]
			if m.Stream() != tc.pattern || m.Seq() != uint64(i+1) {
				t.Errorf("%s message %d: stream %q seq %d, want %q seq %d", tc.pattern, i, m.Stream(), m.Seq(), tc.pattern, i+1)
			}
			if m.Subject() != w.Subject || m.Reply() != w.Reply || string(m.Data()) != string(w.Data) {
				t.Errorf("%s message %d: got %q reply %q data %q, want %q reply %q data %q",
					tc.pattern, i, m.Subject(), m.Reply(), m.Data(), w.Subject, w.Reply, w.Data)
			}
			if len(w.Header) == 0 {
				if m.Header() != nil {
					t.Errorf("%s message %d: headers %v, want none", tc.pattern, i, m.Header())
				}
			} else if !headersEqual(m.Header(), w.Header) {
				t.Errorf("%s message %d: headers %v, want %v", tc.pattern, i, m.Header(), w.Header)
			}
			if m.Received().IsZero() {
				t.Errorf("%s message %d: no receive time", tc.pattern, i)
			}
		}
		// The reader may see the last batch before the counter does.
		waitFor(t, 10*time.Second, "the counter", func() bool { return streamStats(t, in, tc.pattern).Received == n })
		s := streamStats(t, in, tc.pattern)
		if s.Received != n || s.Dropped != 0 || !s.Active {
			t.Errorf("%s stats = %+v, want %d received, none dropped, active", tc.pattern, s, n)
		}
	}
	if err := in.Ready(); err != nil {
		t.Errorf("Ready() = %v, want nil", err)
	}
	if st := in.Stats(); !st.Connected || st.Reconnects != 0 || st.Disconnects != 0 {
		t.Errorf("Stats() = %+v, want connected, no reconnects or disconnects", st)
	}
}

func headersEqual(a, b nats.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestIngester_AppendsABurstCompletelyInFewerBatchesThanMessages(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "burst.>")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{})
	pub := connect(t, srv.ClientURL())

	const n = 20_000
	publish(t, pub, numbered("burst.x", 1, n)...)
	waitFor(t, 20*time.Second, "the whole burst", func() bool {
		return streamStats(t, in, "burst.>").Received == n
	})

	s := streamStats(t, in, "burst.>")
	if s.Dropped != 0 {
		t.Errorf("%d messages dropped under a burst within the pending limits", s.Dropped)
	}
	if s.Batches >= s.Received {
		t.Errorf("%d messages in %d batches: a burst was not batched", s.Received, s.Batches)
	}
	t.Logf("%d messages in %d batches (%.1f a batch)", s.Received, s.Batches, float64(s.Received)/float64(s.Batches))
	for i, m := range newReader(t, hub, "burst.>").next(n, 10*time.Second) {
		if want := strconv.Itoa(i + 1); string(m.Data()) != want || m.Seq() != uint64(i+1) {
			t.Fatalf("message %d: seq %d data %q, want seq %d data %q", i, m.Seq(), m.Data(), i+1, want)
		}
	}
}

// Whatever the size of a burst, its last message must be appended without a
// further message arriving: the test publishes nothing more while it waits.
func TestIngester_AppendsTheLastMessageOfABurstWithoutWaitingForAnother(t *testing.T) {
	for _, maxBatch := range []int{1, 7, 256} {
		t.Run(fmt.Sprintf("MaxBatch=%d", maxBatch), func(t *testing.T) {
			srv := startServer(t, -1)
			hub := newHub(t, "last.>")
			in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{MaxBatch: maxBatch})
			pub := connect(t, srv.ClientURL())
			r := newReader(t, hub, "last.>")

			total := 0
			for _, burst := range []int{1, 2, 3, 6, 7, 8, 100, 255, 256, 257, 1000, 5000, 1} {
				publish(t, pub, numbered("last.x", total+1, burst)...)
				got := r.next(burst, 10*time.Second)
				total += burst
				if last := got[len(got)-1]; string(last.Data()) != strconv.Itoa(total) {
					t.Fatalf("burst of %d: last message %q, want %d", burst, last.Data(), total)
				}
				// The reader may see a batch before the counter does.
				waitFor(t, 10*time.Second, fmt.Sprintf("Received = %d", total), func() bool {
					return streamStats(t, in, "last.>").Received == uint64(total)
				})
			}
			s := streamStats(t, in, "last.>")
			if minBatches := (s.Received + uint64(maxBatch) - 1) / uint64(maxBatch); s.Batches < minBatches || s.Batches > s.Received {
				t.Errorf("%d messages in %d batches of at most %d", s.Received, s.Batches, maxBatch)
			}
		})
	}
}

func TestIngester_Ready_FollowsTheUpstreamConnectionAndResubscribes(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>", "prices.*")
	in, logs := newIngester(t, srv.ClientURL(), hub, ingest.Config{ReconnectWait: 20 * time.Millisecond})
	pub := connect(t, srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	orders := newReader(t, hub, "orders.>")

	if err := in.Ready(); err != nil {
		t.Fatalf("Ready() with upstream up = %v, want nil", err)
	}
	publish(t, pub, numbered("orders.x", 1, 10)...)
	orders.next(10, 10*time.Second)

	p := port(srv)
	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, 10*time.Second, "Ready to report the outage", func() bool { return in.Ready() != nil })
	err := in.Ready()
	if !errors.Is(err, ingest.ErrNotConnected) || !strings.Contains(err.Error(), "upstream not connected (reconnecting)") {
		t.Errorf("Ready() during the outage = %v, want ErrNotConnected, reconnecting", err)
	}
	waitFor(t, 10*time.Second, "the disconnect to be counted", func() bool { return in.Stats().Disconnects == 1 })
	if st := in.Stats(); st.Connected || !st.Streams[0].Active || !st.Streams[1].Active {
		t.Errorf("Stats() during the outage = %+v, want not connected, subscriptions active (kept for resubscribing)", st)
	}

	srv2 := startServer(t, p)
	waitFor(t, 10*time.Second, "Ready after upstream is back", func() bool { return in.Ready() == nil })
	waitSubscribed(t, srv2, 2)
	waitFor(t, 10*time.Second, "the reconnect to be logged", func() bool { return len(logged(logs, "upstream reconnected")) > 0 })
	if st := in.Stats(); st.Reconnects != 1 || st.Disconnects != 1 || !st.Connected {
		t.Errorf("Stats() after the outage = %+v, want 1 reconnect, 1 disconnect, connected", st)
	}

	// Resubscribed: what is published now arrives, numbered after what came
	// before the outage, on both streams.
	waitFor(t, 10*time.Second, "the publisher to reconnect", pub.IsConnected)
	publish(t, pub, numbered("orders.x", 11, 5)...)
	publish(t, pub, numbered("prices.eur", 1, 3)...)
	for i, m := range orders.next(5, 10*time.Second) {
		if m.Seq() != uint64(11+i) || string(m.Data()) != strconv.Itoa(11+i) {
			t.Errorf("after the outage: seq %d data %q, want seq %d", m.Seq(), m.Data(), 11+i)
		}
	}
	newReader(t, hub, "prices.*").next(3, 10*time.Second)

	for _, msg := range []string{"upstream disconnected", "upstream reconnected"} {
		if n := len(logged(logs, msg)); n != 1 {
			t.Errorf("%d log lines %q, want 1", n, msg)
		}
	}
	if e := logged(logs, "upstream reconnected"); len(e) == 1 {
		if f := e[0].ContextMap(); f["reconnects"] != uint64(1) {
			t.Errorf("reconnect logged with fields %v, want reconnects=1", f)
		}
	}
}

func TestIngester_StartsNotReadyWhenUpstreamIsDownAndConnectsWhenItComesUp(t *testing.T) {
	p := freePort(t)
	hub := newHub(t, "orders.>")
	in, logs := newIngester(t, fmt.Sprintf("nats://127.0.0.1:%d", p), hub, ingest.Config{ReconnectWait: 20 * time.Millisecond})

	err := in.Ready()
	if !errors.Is(err, ingest.ErrNotConnected) {
		t.Fatalf("Ready() with upstream down at boot = %v, want ErrNotConnected", err)
	}
	waitFor(t, 10*time.Second, "the failed attempt to be logged", func() bool {
		return len(logged(logs, "cannot connect to upstream")) > 0
	})

	srv := startServer(t, p)
	waitFor(t, 10*time.Second, "Ready once upstream is up", func() bool { return in.Ready() == nil })
	waitSubscribed(t, srv, 1)
	publish(t, connect(t, srv.ClientURL()), numbered("orders.x", 1, 3)...)
	newReader(t, hub, "orders.>").next(3, 10*time.Second)

	waitFor(t, 10*time.Second, "the connection to be logged", func() bool {
		return len(logged(logs, "upstream connected")) == 1
	})
	st := in.Stats()
	if st.Reconnects != 0 || st.Disconnects != 0 || st.ConnectFailures == 0 {
		t.Errorf("Stats() = %+v, want failed attempts counted, the first connection not counted as a reconnect", st)
	}
	if n := len(logged(logs, "cannot connect to upstream")); n != 1 {
		t.Errorf("%d log lines for failed attempts within a minute, want 1", n)
	}
}

func TestIngester_Drain_AppendsEverythingReceivedThenStops(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>", "prices.*")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{})
	pub := connect(t, srv.ClientURL())

	const n = 5000
	publish(t, pub, numbered("orders.x", 1, n)...)
	publish(t, pub, numbered("prices.eur", 1, n)...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	// No waiting: when Drain returns, everything published before it is in
	// the streams.
	for _, s := range in.Stats().Streams {
		if s.Received != n || s.Dropped != 0 || s.Active || s.PendingMessages != 0 {
			t.Errorf("after Drain: %+v, want %d received, none dropped or pending, not active", s, n)
		}
	}
	if st := in.Stats(); st.Connected {
		t.Error("still connected after Drain")
	}
	if err := in.Ready(); !errors.Is(err, ingest.ErrClosed) {
		t.Errorf("Ready() after Drain = %v, want ErrClosed", err)
	}
	waitFor(t, 10*time.Second, "the server to see the connection go", func() bool { return connz(t, srv) == nil })
	newReader(t, hub, "orders.>").next(n, 10*time.Second)

	in.Close()
	in.Close()
	if err := in.Drain(ctx); err != nil {
		t.Errorf("Drain after Close = %v, want nil", err)
	}
}

func TestIngester_Drain_WithUpstreamDownReturnsWithoutWaitingForItsContext(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{ReconnectWait: time.Hour})
	publish(t, connect(t, srv.ClientURL()), numbered("orders.x", 1, 100)...)
	waitFor(t, 10*time.Second, "the messages", func() bool { return in.Stats().Streams[0].Received == 100 })

	srv.Shutdown()
	waitFor(t, 10*time.Second, "the outage", func() bool { return in.Ready() != nil })
	// With a drain's round trip to a server that is gone, Drain would wait
	// for ctx; it must not need to.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := in.Drain(ctx); err != nil {
		t.Fatalf("Drain with upstream down: %v", err)
	}
}

func TestIngester_Drain_CutShortByItsContextCloses(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := in.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Drain with an ended context = %v, want context.Canceled", err)
	}
	if st := in.Stats(); st.Connected || st.Streams[0].Active {
		t.Errorf("Stats() after Drain = %+v, want closed", st)
	}
}

func TestIngester_CountsMessagesDroppedAtThePendingLimitAndLogsOnce(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "burst.>")
	in, logs := newIngester(t, srv.ClientURL(), hub, ingest.Config{PendingMessages: 1})
	pub := connect(t, srv.ClientURL())

	const n = 20_000
	publish(t, pub, numbered("burst.x", 1, n)...)
	waitFor(t, 20*time.Second, "every message appended or dropped", func() bool {
		s := streamStats(t, in, "burst.>")
		return s.Received+s.Dropped == n
	})
	waitFor(t, 10*time.Second, "the slow consumer report", func() bool {
		return len(logged(logs, "dropping messages")) > 0
	})

	s := streamStats(t, in, "burst.>")
	if s.Dropped == 0 || s.Received == 0 || s.SlowConsumer == 0 {
		t.Fatalf("%+v: with a pending limit of 1, a burst of %d should be partly dropped", s, n)
	}
	t.Logf("%d received, %d dropped, %d slow consumer reports", s.Received, s.Dropped, s.SlowConsumer)
	// Appended messages are still in order, without duplicates.
	prev := 0
	for _, m := range newReader(t, hub, "burst.>").next(int(s.Received), 10*time.Second) {
		i, _ := strconv.Atoi(string(m.Data()))
		if i <= prev {
			t.Fatalf("message %d after %d", i, prev)
		}
		prev = i
	}
	if got := logged(logs, "dropping messages"); len(got) != 1 {
		t.Errorf("%d log lines about drops, want 1 (throttled, with the running count)", len(got))
	}
	if err := in.Ready(); err != nil {
		t.Errorf("Ready() = %v: drops do not make natsfan unready", err)
	}
}

func TestIngester_StartAndCloseAreGuarded(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>")
	ctx := context.Background()

	in, _ := newUnstarted(t, srv.ClientURL(), hub, ingest.Config{})
	if err := in.Ready(); !errors.Is(err, ingest.ErrNotStarted) {
		t.Errorf("Ready() before Start = %v, want ErrNotStarted", err)
	}
	if st := in.Stats(); st.Connected || st.Streams[0].Active || st.Streams[0].Pattern != "orders.>" {
		t.Errorf("Stats() before Start = %+v", st)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	in.Close()
	in.Close()
	if err := in.Ready(); !errors.Is(err, ingest.ErrClosed) {
		t.Errorf("Ready() after Close = %v, want ErrClosed", err)
	}

	closed, _ := newUnstarted(t, srv.ClientURL(), hub, ingest.Config{})
	closed.Close()
	if err := closed.Start(ctx); !errors.Is(err, ingest.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
	if err := closed.Drain(ctx); err != nil {
		t.Errorf("Drain of an Ingester never started = %v, want nil", err)
	}
}

// Close called while Start is connecting must not return before Start has
// undone what it made: when Close returns, nothing of the Ingester's may be
// dialling upstream or hold a connection open. The dialer holds Start's
// connection attempt until Close has either returned (too early: the test
// fails) or is waiting.
func TestIngester_Close_DuringStartWaitsUntilStartHasCleanedUp(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "orders.>")
	d := newGatedDialer()
	in, _ := newUnstarted(t, srv.ClientURL(), hub, ingest.Config{
		NATSOptions: []nats.Option{nats.SetCustomDialer(d)},
	})
	started := make(chan error, 1)
	go func() { started <- in.Start(context.Background()) }()
	<-d.dialing

	busyWhenClosed := make(chan int, 1)
	returned := make(chan struct{})
	go func() {
		in.Close()
		busyWhenClosed <- d.busy()
		close(returned)
	}()
	waitFor(t, 10*time.Second, "Close to return or to wait", func() bool {
		select {
		case <-returned:
			return true
		default:
			return parkedIn("ingest.(*Ingester).Close(")
		}
	})
	close(d.gate)
	if busy := <-busyWhenClosed; busy != 0 {
		t.Errorf("Close returned while Start still had %d dials under way or connections open", busy)
	}
	if err := <-started; !errors.Is(err, ingest.ErrClosed) {
		t.Errorf("Start interrupted by Close = %v, want ErrClosed", err)
	}
}

func TestIngester_Start_FailsOnlyForWhatCannotFixItself(t *testing.T) {
	hub := newHub(t, "orders.>")
	for _, tc := range []struct {
		name string
		urls []string
	}{
		{"no URL", nil},
		{"malformed URL", []string{"nats://user:pw@127.0.0.1:notaport"}},
		{"one malformed URL of two", []string{"nats://127.0.0.1:4222", "nats://[::1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := newUnstarted(t, "", hub, ingest.Config{URLs: tc.urls})
			err := in.Start(context.Background())
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("Start's error %q shows the password", err)
			}
			if in.Ready() == nil {
				t.Error("Ready() = nil after a failed Start")
			}
		})
	}
}

func TestIngester_Close_StopsAppendingAtOnceUnderLoad(t *testing.T) {
	srv := startServer(t, -1)
	hub := newHub(t, "burst.>")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{})
	pub := connect(t, srv.ClientURL())

	published := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 50_000 && err == nil; i++ {
			err = pub.Publish("burst.x", []byte("x"))
		}
		if err == nil {
			err = pub.Flush()
		}
		published <- err
	}()
	waitFor(t, 10*time.Second, "the burst to arrive", func() bool { return streamStats(t, in, "burst.>").Received > 0 })
	in.Close()

	appended := hub.Stats().Streams[0].Received
	if got := streamStats(t, in, "burst.>").Received; got != appended {
		t.Errorf("after Close: %d counted, %d in the stream", got, appended)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if now := hub.Stats().Streams[0].Received; now != appended {
		t.Errorf("%d messages appended after Close returned", now-appended)
	}
	if st := in.Stats(); st.Connected || st.Streams[0].Active {
		t.Errorf("Stats() after Close = %+v", st)
	}
}

// ServerInfo names the account the upstream connection is bound to, which
// nats-server sends in an INFO after the first PONG: once connected at
// Start, once connected later when upstream was down at boot, and again
// after a reconnect.
func TestIngester_ServerInfo_NamesTheUpstreamAccount(t *testing.T) {
	withAccount := func(port int) *server.Server {
		acme := server.NewAccount("ACME")
		return startServer(t, port, &server.Options{
			Accounts: []*server.Account{acme},
			Users:    []*server.User{{Username: "app", Password: "secret", Account: acme}},
		})
	}
	account := func(in *ingest.Ingester) func() bool {
		return func() bool { return in.ServerInfo().Account == "ACME" }
	}

	t.Run("up at Start", func(t *testing.T) {
		srv := withAccount(-1)
		in, _ := newIngester(t, fmt.Sprintf("nats://app:secret@127.0.0.1:%d", port(srv)), newHub(t, "orders.>"), ingest.Config{})
		if got := in.ServerInfo(); got.Account != "ACME" || got.SystemAccount {
			t.Fatalf("ServerInfo() once Start has returned = %+v, want account ACME, not the system account", got)
		}
	})
	t.Run("down at Start, then up, then back after an outage", func(t *testing.T) {
		p := freePort(t)
		in, _ := newIngester(t, fmt.Sprintf("nats://app:secret@127.0.0.1:%d", p), newHub(t, "orders.>"),
			ingest.Config{ReconnectWait: 20 * time.Millisecond})
		if got := in.ServerInfo().Account; got != "" {
			t.Fatalf("ServerInfo().Account before upstream was reached = %q, want none", got)
		}
		srv := withAccount(p)
		waitFor(t, 10*time.Second, "the account once connected", account(in))
		srv.Shutdown()
		srv.WaitForShutdown()
		waitFor(t, 10*time.Second, "the outage", func() bool { return in.Ready() != nil })
		withAccount(p)
		waitFor(t, 10*time.Second, "the reconnect", func() bool { return in.Ready() == nil })
		if got := in.ServerInfo().Account; got != "ACME" {
			t.Fatalf("ServerInfo().Account after the reconnect = %q, want ACME", got)
		}
	})
}
