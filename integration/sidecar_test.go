package integration

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/subjects"
)

// TestSidecar_EachConsumerReceivesExactlyTheMatchingMessagesInOrder sends
// messages on several subjects to consumers with different patterns: one per
// stream, a filter narrower than a stream, and one spanning every stream.
func TestSidecar_EachConsumerReceivesExactlyTheMatchingMessagesInOrder(t *testing.T) {
	srv := startServer(t, -1)
	sc := startSidecar(t, srv.ClientURL(), []string{"orders.>", "prices.*", "audit"})
	patterns := []string{"orders.>", "orders.eu.*", "prices.*", "audit", ">", "*.eu.paid"}
	subs := make([]*fanout.Subscription, len(patterns))
	for i, p := range patterns {
		subs[i] = sc.subscribe(t, p)
	}

	subjectsSent := []string{"orders.eu.new", "orders.us.new", "prices.eu", "audit", "orders.eu.paid", "orders.eu.x.y", "ignored.subject"}
	var sent []*nats.Msg
	for i := range 300 {
		sent = append(sent, msg(subjectsSent[i%len(subjectsSent)], i))
	}
	publishAll(t, connect(t, srv.ClientURL()), sent...)

	for i, p := range patterns {
		var want []*nats.Msg
		for _, m := range sent {
			if subjects.Match(p, m.Subject) && !subjects.Match("ignored.>", m.Subject) {
				want = append(want, m)
			}
		}
		got := make(map[string]int) // Index header → times received
		lastSeq := make(map[string]uint64)
		lastIndex := make(map[string]int)
		for range want {
			m, err := subs[i].Next(testContext(t))
			if err != nil {
				t.Fatalf("%s: %v after %d messages", p, err, len(got))
			}
			index := m.Header().Get("Index")
			got[index]++
			n, _ := strconv.Atoi(index)
			if m.Seq() <= lastSeq[m.Stream()] || (lastIndex[m.Stream()] > 0 && n <= lastIndex[m.Stream()]) {
				t.Fatalf("%s: message %d (seq %d) out of order in %s", p, n, m.Seq(), m.Stream())
			}
			lastSeq[m.Stream()], lastIndex[m.Stream()] = m.Seq(), n
			orig := sent[n]
			if m.Subject() != orig.Subject || m.Reply() != orig.Reply || string(m.Data()) != string(orig.Data) {
				t.Fatalf("%s: got %s %s %q, sent %s %s %q", p, m.Subject(), m.Reply(), m.Data(), orig.Subject, orig.Reply, orig.Data)
			}
			if !subjects.Match(p, m.Subject()) {
				t.Fatalf("%s: received %s", p, m.Subject())
			}
		}
		for _, m := range want {
			if got[m.Header.Get("Index")] != 1 {
				t.Fatalf("%s: message %s received %d times", p, m.Header.Get("Index"), got[m.Header.Get("Index")])
			}
		}
		if lag, _ := subs[i].Lag(); lag != 0 && p != "*.eu.paid" && p != "orders.eu.*" {
			t.Errorf("%s: lag %d after reading everything", p, lag)
		}
	}
}

func TestSidecar_LateConsumerFromOldestReceivesTheRetentionWindow(t *testing.T) {
	srv := startServer(t, -1)
	sc := startSidecar(t, srv.ClientURL(), []string{"events.>"},
		fanout.WithRetention(buffer.Retention{MaxMessages: 50}))
	nc := connect(t, srv.ClientURL())
	for i := range 80 {
		publishAll(t, nc, msg("events.x", i))
	}
	waitFor(t, "every message to be ingested", func() bool { return sc.hub.Stats().Streams[0].Received == 80 })

	late := sc.subscribe(t, "events.>", fanout.StartAtOldest())
	for i := 30; i < 80; i++ {
		m, err := late.Next(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header().Get("Index"); got != strconv.Itoa(i) {
			t.Fatalf("late consumer got message %s, want %d", got, i)
		}
	}
}

// TestSidecar_SurvivesAnUpstreamRestart stops the upstream server and starts
// a new one on the same port: the sidecar reconnects and resubscribes, and
// its consumers, never disturbed, receive what is published afterwards.
func TestSidecar_SurvivesAnUpstreamRestart(t *testing.T) {
	srv := startServer(t, -1)
	port := serverPort(t, srv)
	sc := startSidecar(t, srv.ClientURL(), []string{"events.>"})
	sub := sc.subscribe(t, "events.>")

	publishAll(t, connect(t, srv.ClientURL()), msg("events.before", 0))
	if m, err := sub.Next(testContext(t)); err != nil || m.Subject() != "events.before" {
		t.Fatalf("before the restart: %v, %v", m, err)
	}

	srv.Shutdown()
	waitFor(t, "the sidecar to report the upstream down", func() bool { return sc.in.Ready() != nil })

	srv = startServer(t, port)
	waitFor(t, "the sidecar to be ready again", func() bool { return sc.in.Ready() == nil })
	nc := connect(t, srv.ClientURL())
	// The resubscription may reach the new server just after Ready: publish
	// until the consumer receives, which proves the subscription is back.
	got := make(chan *fanout.Msg, 1)
	go func() {
		m, err := sub.Next(testContext(t))
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	for i := 1; ; i++ {
		publishAll(t, nc, msg("events.after", i))
		select {
		case m := <-got:
			if m.Subject() != "events.after" {
				t.Fatalf("after the restart: %s", m.Subject())
			}
			if st := sc.in.Stats(); st.Reconnects < 1 {
				t.Fatalf("reconnects = %d, want at least 1", st.Reconnects)
			}
			return
		case <-time.After(50 * time.Millisecond): // publish again; the deadline is testContext's
		}
	}
}

// TestSidecar_StuckConsumerIsCutOffWhileOthersReceiveEverything has one
// consumer that never reads: it is cut off at its limit, while the others
// receive every message and ingest keeps pace (nothing dropped upstream).
func TestSidecar_StuckConsumerIsCutOffWhileOthersReceiveEverything(t *testing.T) {
	srv := startServer(t, -1)
	sc := startSidecar(t, srv.ClientURL(), []string{"load.>"},
		lagLimit(1000), fanout.WithSweepInterval(10*time.Millisecond))
	stuck := sc.subscribe(t, "load.>")

	const n, readers = 20000, 3
	done := make(chan error, readers)
	for range readers {
		sub := sc.subscribe(t, "load.>", fanout.WithSubscriptionLag(buffer.Lag{MaxMessages: n}))
		go func() {
			for i := range n {
				m, err := sub.Next(testContext(t))
				if err != nil {
					done <- err
					return
				}
				if m.Seq() != uint64(i+1) {
					done <- fmt.Errorf("message %d has seq %d", i+1, m.Seq())
					return
				}
			}
			done <- nil
		}()
	}
	nc := connect(t, srv.ClientURL())
	payload := make([]byte, 128)
	for range n {
		if err := nc.Publish("load.x", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for range readers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stuck.Next(testContext(t)); !errors.Is(err, fanout.ErrSlowConsumer) {
		t.Fatalf("the stuck consumer: Next = %v, want ErrSlowConsumer", err)
	}
	st := sc.in.Stats()
	if st.Streams[0].Dropped != 0 || st.Streams[0].Received != n {
		t.Fatalf("ingest: %+v, want %d received and none dropped", st.Streams[0], n)
	}
	if hs := sc.hub.Stats(); hs.Streams[0].SlowConsumers != 1 {
		t.Fatalf("slow consumers = %d, want 1", hs.Streams[0].SlowConsumers)
	}
}
