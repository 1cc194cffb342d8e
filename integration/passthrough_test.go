package integration

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// What natsfan does not buffer it passes through, as a leaf node does:
// publishes and requests go upstream over its one connection, and a SUB
// outside NATSFAN_SUBJECTS subscribes upstream while some client wants it.

func TestPassthrough_PublishesReachUpstreamInOrderWithHeaders(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	upstream := connect(t, up.ClientURL())
	const n = 2000
	got := make(chan *nats.Msg, n)
	subscribeAll(t, upstream, "svc.>", "", func(m *nats.Msg) { got <- m })

	client := dialSocket(t, sc.path)
	for i := range n {
		m := nats.NewMsg("svc." + strconv.Itoa(i%7))
		m.Reply = "answers"
		m.Header.Set("N", strconv.Itoa(i))
		m.Data = []byte(strconv.Itoa(i))
		if err := client.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		select {
		case m := <-got:
			if want := strconv.Itoa(i); string(m.Data) != want || m.Header.Get("N") != want || m.Reply != "answers" ||
				m.Subject != "svc."+strconv.Itoa(i%7) {
				t.Fatalf("message %d upstream: %s %q reply %q header %v", i, m.Subject, m.Data, m.Reply, m.Header)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("upstream received %d of %d messages", i, n)
		}
	}
	if st := sc.srv.Stats(); st.Published != n {
		t.Errorf("Stats().Published = %d, want %d", st.Published, n)
	}
}

func TestPassthrough_OneUpstreamSubscriptionPerSubjectWhileClientsWantIt(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	baseline := up.NumSubscriptions()
	upstream := connect(t, up.ClientURL())

	var subs []*nats.Subscription
	var received []chan string
	for range 3 {
		nc := dialSocket(t, sc.path)
		ch := make(chan string, 10)
		sub, err := nc.Subscribe("events.a", func(m *nats.Msg) { ch <- string(m.Data) })
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil { // the PONG says upstream has the SUB
			t.Fatal(err)
		}
		subs = append(subs, sub)
		received = append(received, ch)
	}
	if n := up.NumSubscriptions() - baseline; n != 1 {
		t.Errorf("upstream has %d subscriptions for 3 local SUBs on one subject, want 1", n)
	}
	if err := upstream.Publish("events.a", []byte("first")); err != nil {
		t.Fatal(err)
	}
	for i, ch := range received {
		if got := receiveOne(t, ch); got != "first" {
			t.Fatalf("client %d got %q", i, got)
		}
	}
	for _, sub := range subs {
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the upstream subscription to end with the last local one", func() bool {
		return up.NumSubscriptions() == baseline && sc.srv.Stats().Interests == 0
	})
}

func TestPassthrough_UnsubscribeWithMaximumEndsTheUpstreamSubscription(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	baseline := up.NumSubscriptions()
	upstream := connect(t, up.ClientURL())
	nc := dialSocket(t, sc.path)
	ch := make(chan string, 10)
	sub, err := nc.Subscribe("events.b", func(m *nats.Msg) { ch <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.AutoUnsubscribe(2); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := upstream.Publish("events.b", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := receiveOne(t, ch), receiveOne(t, ch); a != "0" || b != "1" {
		t.Fatalf("got %q, %q", a, b)
	}
	waitFor(t, "the upstream subscription to end at the maximum", func() bool {
		return up.NumSubscriptions() == baseline && sc.srv.Stats().Interests == 0
	})
}

func TestPassthrough_RequestsReachRespondersAnywhere(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	upstream := connect(t, up.ClientURL())
	local := dialSocket(t, sc.path)
	respond := func(nc *nats.Conn, subject, who string) {
		t.Helper()
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond([]byte(who + ":" + string(m.Data))) }); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	respond(upstream, "remote.echo", "remote")
	respond(local, "local.echo", "local")

	for _, style := range []struct {
		name string
		opts []nats.Option
	}{{"new style", nil}, {"old style", []nats.Option{nats.UseOldRequestStyle()}}} {
		requester := dialSocket(t, sc.path, style.opts...)
		for i, c := range []struct{ subject, want string }{
			{"remote.echo", "remote:x"}, {"local.echo", "local:x"}, {"remote.echo", "remote:x"},
		} {
			reply, err := requester.Request(c.subject, []byte("x"), 5*time.Second)
			if err != nil {
				t.Fatalf("%s request %d to %s: %v", style.name, i, c.subject, err)
			}
			if string(reply.Data) != c.want {
				t.Fatalf("%s request %d to %s: reply %q, want %q", style.name, i, c.subject, reply.Data, c.want)
			}
		}
		_, err := requester.Request("nobody.home", nil, 5*time.Second)
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("%s request nobody serves: %v, want nats.ErrNoResponders", style.name, err)
		}
	}
}

func TestPassthrough_SubjectSpanningBufferedAndNotArrivesOnce(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	nc := dialSocket(t, sc.path)
	ch := make(chan string, 100)
	if _, err := nc.Subscribe(">", func(m *nats.Msg) { ch <- m.Subject + " " + string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	upstream := connect(t, up.ClientURL())
	want := []string{"orders.1 a", "prices.1 b", "orders.2 c"}
	for _, w := range want {
		var subject, data string
		fmt.Sscan(w, &subject, &data)
		if err := upstream.Publish(subject, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	// The buffered part and the rest arrive in no order between them: an
	// end marker on each says that nothing more is coming.
	for _, end := range []string{"orders.end", "end"} {
		if err := upstream.Publish(end, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	for ends := 0; ends < 2; {
		s := receiveOne(t, ch)
		if s == "end " || s == "orders.end " {
			ends++
			continue
		}
		got[s]++
	}
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("%q arrived %d times, want once (all: %v)", w, got[w], got)
		}
	}
}

func TestPassthrough_LocalPublishReachesLocalSubscribersOnce(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	sub := dialSocket(t, sc.path)
	ch := make(chan string, 100)
	for _, subject := range []string{"orders.new", "events.new"} {
		if _, err := sub.Subscribe(subject, func(m *nats.Msg) { ch <- m.Subject }); err != nil {
			t.Fatal(err)
		}
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := dialSocket(t, sc.path)
	for _, subject := range []string{"orders.new", "events.new", "orders.new", "events.new"} {
		if err := pub.Publish(subject, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 4 {
		got[receiveOne(t, ch)]++
	}
	// Whatever else arrives comes before a marker published afterwards.
	if err := pub.Publish("events.new", []byte("end")); err != nil {
		t.Fatal(err)
	}
	if s := receiveOne(t, ch); s != "events.new" || got["orders.new"] != 2 || got["events.new"] != 2 {
		t.Fatalf("got %v then %q: each message should arrive once", got, s)
	}
}

func receiveOne(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received in 10s")
		return ""
	}
}

func TestPassthrough_ClientWithoutEchoDoesNotReceiveItsOwnMessages(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	quiet := dialSocket(t, sc.path, nats.NoEcho())
	other := dialSocket(t, sc.path)
	patterns := []string{"orders.*", "events.*", "events.a"} // buffered, and two interests
	received := map[*nats.Conn]chan string{}
	for _, nc := range []*nats.Conn{quiet, other} {
		ch := make(chan string, 100)
		for _, p := range patterns {
			if _, err := nc.Subscribe(p, func(m *nats.Msg) { ch <- m.Sub.Subject + " " + string(m.Data) }); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		received[nc] = ch
	}
	// Its own messages, then the same from another client, which do reach
	// it. (Were the other's to arrive first, they would be taken for its
	// echoes: the filter knows content, not origin.)
	for _, nc := range []*nats.Conn{quiet, other} {
		for _, subject := range []string{"orders.a", "events.a"} {
			if err := nc.Publish(subject, []byte("same")); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Each SUB receives in order: once each has had its "end", it has had
	// everything before.
	for _, subject := range []string{"orders.a", "events.a"} {
		if err := other.Publish(subject, []byte("end")); err != nil {
			t.Fatal(err)
		}
	}
	count := func(ch chan string) map[string]int {
		got := map[string]int{}
		for ends := 0; ends < len(patterns); {
			s := receiveOne(t, ch)
			if strings.HasSuffix(s, " end") {
				ends++
				continue
			}
			got[s]++
		}
		return got
	}
	q, o := count(received[quiet]), count(received[other])
	wantQuiet := map[string]int{"orders.* same": 1, "events.* same": 1, "events.a same": 1}
	wantOther := map[string]int{"orders.* same": 2, "events.* same": 2, "events.a same": 2}
	if !maps.Equal(q, wantQuiet) || !maps.Equal(o, wantOther) {
		t.Errorf("without echo got %v, want %v\nwith echo got %v, want %v", q, wantQuiet, o, wantOther)
	}
}

func TestPassthrough_UpstreamRefusalsReachTheClientThatCausedThem(t *testing.T) {
	up := startServerWith(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "natsfan", Password: "pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Deny: []string{"secret.>"}},
			Subscribe: &server.SubjectPermission{Deny: []string{"hidden.>"}},
		}}}
	})
	url := fmt.Sprintf("nats://natsfan:pw@127.0.0.1:%d", serverPort(t, up))
	sc := startPodSidecar(t, url, []string{"orders.>"}, fanout.ServerConfig{})

	errs := func() (chan error, nats.Option) {
		ch := make(chan error, 10)
		return ch, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { ch <- err })
	}
	publisherErrs, opt := errs()
	publisher := dialSocket(t, sc.path, opt)
	bystanderErrs, opt := errs()
	bystander := dialSocket(t, sc.path, opt, nats.PermissionErrOnSubscribe(true))
	if err := bystander.Publish("public.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := publisher.Publish("secret.x", []byte("no")); err != nil {
		t.Fatal(err)
	}
	want := `Permissions Violation for Publish to "secret.x"`
	select {
	case err := <-publisherErrs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), want) {
			t.Fatalf("publisher got %v, want %s", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher was not told that upstream refused its publish")
	}

	sub, err := bystander.SubscribeSync("hidden.x")
	if err != nil {
		t.Fatal(err)
	}
	want = `Permissions Violation for Subscription to "hidden.x"`
	select {
	case err := <-bystanderErrs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), want) {
			t.Fatalf("subscriber got %v, want %s", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber was not told that upstream refused its subscription")
	}
	if _, err := sub.NextMsg(time.Second); !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("NextMsg on the refused subscription: %v, want the permissions violation", err)
	}
	select {
	case err := <-publisherErrs:
		t.Errorf("the publisher was told of another client's refusal: %v", err)
	default:
	}
}

func TestPassthrough_RequestsInFlightUntilAnswered(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	upstream := connect(t, up.ClientURL())
	held := make(chan *nats.Msg, 1)
	subscribeAll(t, upstream, "slow.svc", "", func(m *nats.Msg) { held <- m })

	requester := dialSocket(t, sc.path)
	answered := make(chan error, 1)
	go func() {
		_, err := requester.Request("slow.svc", nil, 30*time.Second)
		answered <- err
	}()
	var req *nats.Msg
	select {
	case req = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the responder")
	}
	if n := sc.srv.Stats().RequestsInFlight; n != 1 {
		t.Errorf("%d requests in flight while the responder holds one, want 1", n)
	}
	if err := req.Respond([]byte("done")); err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if n := sc.srv.Stats().RequestsInFlight; n != 0 {
		t.Errorf("%d requests in flight once answered, want 0", n)
	}
}

// nats-server passes a header block on as bytes; natsfan must read it to
// publish through nats.go, and closes a client whose block is not one.
func TestPassthrough_AnHPUBWhoseHeadersAreNotAHeaderBlockClosesTheConnection(t *testing.T) {
	up := startServer(t, -1)
	sc := startPodSidecar(t, up.ClientURL(), []string{"orders.>"}, fanout.ServerConfig{})
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB bad.headers 6 8\r\nHELLO\nhi\r\n")
	if last := rc.closedAfter(t); last != "-ERR 'Invalid Message Header'" {
		t.Errorf("last line before the close: %q, want -ERR 'Invalid Message Header'", last)
	}
	// The sidecar serves the others as before.
	nc := dialSocket(t, sc.path)
	if err := nc.Publish("good.headers", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}
