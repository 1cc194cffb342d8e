package integration

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// While upstream is down, natsfan holds its clients' publishes up to the
// reconnect buffer and sends them once it is back, refuses the rest with
// an error the publisher sees, and answers requests with no responders at
// once rather than letting them time out.
func TestPassthrough_UpstreamOutageHoldsPublishesAndFailsRequestsAtOnce(t *testing.T) {
	up := startServer(t, -1)
	port := serverPort(t, up)
	const buffer = 64 << 10
	sc := startPodSidecarWith(t, ingest.Config{URLs: []string{up.ClientURL()}, ReconnectWait: 50 * time.Millisecond, ReconnectBuffer: buffer},
		[]string{"orders.>"}, fanout.ServerConfig{})
	in := sc.in

	// A subscriber through natsfan: nats.go resubscribes natsfan's interest
	// before it sends what it held, so this one sees all of it.
	received := make(chan string, 10_000)
	subscriber := dialSocket(t, sc.path)
	subscribeAll(t, subscriber, "held.>", "", func(m *nats.Msg) { received <- string(m.Data) })
	refusals := make(chan error, 10_000)
	publisher := dialSocket(t, sc.path, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refusals <- err }))

	up.Shutdown()
	waitFor(t, "natsfan to see upstream go", func() bool { return !in.Connected() })

	asked := time.Now()
	if _, err := publisher.Request("svc.echo", nil, 30*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("request while upstream is down: %v, want nats.ErrNoResponders at once", err)
	}
	t.Logf("a request while upstream is down failed with no responders after %v", time.Since(asked))

	payload := make([]byte, 1000)
	const sent = 2 * buffer / 1000 // twice what the buffer holds
	for i := range sent {
		copy(payload, strconv.Itoa(i)+" ")
		if err := publisher.Publish("held.x", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := publisher.Flush(); err != nil { // natsfan has handled every PUB
		t.Fatal(err)
	}
	refused := int(sc.srv.Stats().PubFailed) - 1 // less the request
	if refused == 0 {
		t.Fatalf("none of %d publishes of %d bytes refused with a buffer of %d", sent, len(payload), buffer)
	}
	waitFor(t, "the publisher to be told of each refusal", func() bool { return len(refusals) == refused })
	if err := <-refusals; !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("refusal: %v, want a permissions violation", err)
	}

	restarted := time.Now()
	startServer(t, port)
	waitFor(t, "natsfan to reconnect", in.Connected)
	t.Logf("natsfan reconnected %v after upstream came back (reconnect wait 50 ms)", time.Since(restarted))
	held := sent - refused
	if held < buffer/1000/2 {
		t.Fatalf("%d of %d publishes held for %d bytes of buffer", held, sent, buffer)
	}
	for i := range held {
		select {
		case got := <-received:
			if want := strconv.Itoa(i) + " "; got[:len(want)] != want {
				t.Fatalf("held message %d arrived as %q…", i, got[:10])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d held messages arrived after the reconnect", i, held)
		}
	}
	t.Logf("%d publishes of %d B held (%d refused) for a %d B buffer, all delivered in order %v after upstream came back",
		held, len(payload), refused, buffer, time.Since(restarted))
}
