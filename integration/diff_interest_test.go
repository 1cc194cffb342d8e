package integration

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The scenarios of subscriptions on interest: natsfan buffers orders.>
// (NATSFAN_SUBJECTS) and serves every other subject by subscribing upstream
// when a local client subscribes, and unsubscribing when the last one
// leaves. A client cannot tell: it receives what it would from nats-server,
// each message once per subscription, in the order it was published, also
// on a pattern that spans buffered and unbuffered subjects. A PONG after a
// SUB says natsfan's own upstream subscription is in place, as a PONG says
// of nats-server's.

// interestSubjects is NATSFAN_SUBJECTS in the scenarios on interest.
const interestSubjects = "orders.>"

// interestPatterns are unbuffered patterns the client subscribes to, with
// the fences that follow the messages (see untilFences): one each pattern
// matches.
var (
	interestPatterns = []string{"billing.>", "billing.*.paid", "shipping.*.new"}
	interestFences   = []string{"billing.fence.paid", "shipping.fence.new"}
)

// spanningPatterns span buffered and unbuffered subjects, with a fence on
// each path: one buffered, one not.
var (
	spanningPatterns = []string{"*.*.new", ">"}
	spanningFences   = []string{"orders.fence.new", "billing.fence.new"}
)

// interestMessages are published upstream in this order: on buffered and
// unbuffered subjects, interleaved, with headers, replies, empty and binary
// payloads.
func interestMessages() []rawMsg {
	return []rawMsg{
		{Subject: "billing.eu.paid", Reply: "_INBOX.reply.1", Data: []byte(`{"id":1}`), Headers: []headerField{{"Invoice", []string{"1"}}, {"Trace", []string{"a", "b"}}}},
		{Subject: "orders.eu.new", Data: []byte("order 1")},
		{Subject: "billing.eu.new", Data: []byte("bill 1")},
		{Subject: "billing.us"}, // empty payload
		{Subject: "orders.us.new", Reply: "reply.2", Headers: []headerField{{"Only", []string{"header"}}}},
		{Subject: "shipping.eu.new", Data: []byte{0, 1, 2, '\r', '\n', 255}},
		{Subject: "billing.us.paid", Data: []byte("bill 2")},
		{Subject: "orders.eu.paid", Data: []byte("matched by > only")},
		{Subject: "billing.eu.new", Data: []byte("bill 3")},
	}
}

// TestDifferential_SubscribeOnInterestNatsGo: a nats.go client subscribed
// through natsfan to subjects it does not buffer receives what is published
// upstream after its Flush, each message once per subscription, in order.
func TestDifferential_SubscribeOnInterestNatsGo(t *testing.T) {
	differential(t, diffOptions{Subjects: interestSubjects}, func(t *testing.T, tg *diffTarget) []subscriptionObservation {
		return subscribeNatsGo(t, tg, interestPatterns, interestFences)
	})
}

// TestDifferential_SubscribeOnInterestNatsJS: the same with nats.js.
func TestDifferential_SubscribeOnInterestNatsJS(t *testing.T) {
	differential(t, diffOptions{Subjects: interestSubjects}, func(t *testing.T, tg *diffTarget) []subscriptionObservation {
		return subscribeNatsJS(t, tg, interestPatterns, interestFences)
	})
}

// spanningObservation is what a subscription that spans buffered and
// unbuffered subjects received: each message once (Delivered, sorted, comes
// first in a failure's first difference), in the order they were published
// (Order).
type spanningObservation struct {
	Subject   string   `json:"subject"`
	Delivered []string `json:"delivered"` // "subject payload", sorted
	Order     []string `json:"order"`     // "subject payload", as received
}

func spanning(obs []subscriptionObservation) []spanningObservation {
	out := make([]spanningObservation, len(obs))
	for i, o := range obs {
		out[i] = spanningObservation{Subject: o.Subject, Delivered: []string{}, Order: []string{}}
		for _, m := range o.Messages {
			out[i].Order = append(out[i].Order, fmt.Sprintf("%s %q", m.Subject, m.Payload))
		}
		out[i].Delivered = append(out[i].Delivered, out[i].Order...)
		sort.Strings(out[i].Delivered)
	}
	return out
}

// TestDifferential_SpanningSubscriptionNatsGo: a nats.go subscription
// through natsfan to a pattern that spans buffered and unbuffered subjects
// (> and *.*.new with orders.> buffered) receives each message once, in the
// order it was published upstream.
func TestDifferential_SpanningSubscriptionNatsGo(t *testing.T) {
	differential(t, diffOptions{Subjects: interestSubjects}, func(t *testing.T, tg *diffTarget) []spanningObservation {
		return spanning(subscribeNatsGo(t, tg, spanningPatterns, spanningFences))
	})
}

// TestDifferential_SpanningSubscriptionNatsJS: the same with nats.js.
func TestDifferential_SpanningSubscriptionNatsJS(t *testing.T) {
	differential(t, diffOptions{Subjects: interestSubjects}, func(t *testing.T, tg *diffTarget) []spanningObservation {
		return spanning(subscribeNatsJS(t, tg, spanningPatterns, spanningFences))
	})
}

// subscribeNatsGo subscribes a nats.go client of tg to patterns, publishes
// interestMessages upstream, then fences, and returns what each
// subscription received before its fences.
func subscribeNatsGo(t *testing.T, tg *diffTarget, patterns, fences []string) []subscriptionObservation {
	t.Helper()
	nc := tg.Connect(t)
	var subs []*nats.Subscription
	for _, p := range patterns {
		subs = append(subs, subscribeAll(t, nc, p, "", nil))
	}
	publishRaw(t, tg.Upstream, interestMessages()...)
	got := untilFences(t, tg, fences, subs...)
	obs := make([]subscriptionObservation, len(subs))
	for i, sub := range subs {
		obs[i] = subscriptionObservation{Subject: sub.Subject, Messages: got[i]}
	}
	return obs
}

// subscribeNatsJS is subscribeNatsGo with nats.js (integration/js/
// subscribe.js), whose subscriptions report their fences too.
func subscribeNatsJS(t *testing.T, tg *diffTarget, patterns, fences []string) []subscriptionObservation {
	t.Helper()
	js := startNode(t, "subscribe.js", "--url", tg.URL, "--subjects", strings.Join(patterns, ","), "--end", strings.Join(fences, ","))
	js.Await(t, "subscribed")
	publishRaw(t, tg.Upstream, interestMessages()...)
	publishFences(t, tg, fences...)
	js.Resume(t)
	var obs []subscriptionObservation
	js.JSON(t, &obs)
	for i := range obs { // as untilFences does
		kept := obs[i].Messages[:0]
		for _, m := range obs[i].Messages {
			if !slices.Contains(fences, m.Subject) {
				kept = append(kept, m)
			}
		}
		obs[i].Messages = kept
	}
	return obs
}

// TestDifferential_UnsubscribeStopsDelivery speaks the protocol by hand, as
// nats.go and nats.js drop what arrives for a subscription they have
// unsubscribed: after UNSUB and a PONG the server sends nothing more for
// that sid; UNSUB with a maximum stops after that many messages in all; a
// subject another subscription still holds goes on for that one; and a
// subject subscribed again after its last subscription left is delivered
// again. Once the last local subscription to a subject is gone, the
// upstream server has no subscription to it (natsfan unsubscribed).
func TestDifferential_UnsubscribeStopsDelivery(t *testing.T) {
	type phase struct {
		Sent     string              `json:"sent"`     // what the client sent before the phase's messages
		Received map[string][]string `json:"received"` // by sid: "subject payload", in order, fences left out
	}
	differential(t, diffOptions{Subjects: interestSubjects}, func(t *testing.T, tg *diffTarget) []phase {
		rc := dialRawURL(t, tg.URL)
		rc.send(t, `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true}`+"\r\n")
		// sids 90 to 92 are the fences', one for each path (buffered and
		// on interest) and one on a subject of its own; they stay
		// subscribed throughout.
		fences := map[string]string{"90": "orders.fence", "91": "billing.fence", "92": "fence"}
		rc.send(t, "SUB orders.fence 90\r\nSUB billing.fence 91\r\nSUB fence 92\r\n")
		var obs []phase
		step := func(sent string, msgs ...string) {
			rc.send(t, sent+"PING\r\n")
			rc.untilPong(t)
			for i, subj := range msgs {
				if err := tg.Pub.Publish(subj, []byte(strconv.Itoa(len(obs))+"."+strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			publishFences(t, tg, "orders.fence", "billing.fence", "fence")
			obs = append(obs, phase{Sent: sent, Received: rc.untilMsgs(t, fences)})
		}
		msgs := []string{"billing.a", "orders.a", "billing.b", "billing.a", "other.x", "orders.b"}
		step("SUB billing.a 1\r\nSUB billing.a 2\r\nSUB orders.> 3\r\nSUB billing.* 4\r\nUNSUB 4 3\r\nSUB other.* 5\r\n", msgs...)
		step("UNSUB 1\r\nUNSUB 5 1\r\n", msgs...)
		step("UNSUB 2\r\nUNSUB 3\r\n", msgs...)
		waitUpstreamHasNo(t, tg, "billing.a", "billing.*", "other.*")
		step("SUB billing.a 6\r\nSUB billing.* workers 7\r\n", msgs...)
		step("") // a message for a subscription left would show here
		return obs
	})
}

// TestDifferential_LastSubscriberLeavingEndsTheSubscription: clients on
// several connections subscribe to the same unbuffered subject; as long as
// one of them holds it, it receives; once all have left (by unsubscribing,
// by reaching their maximum, by closing) and one subscribes again, it
// receives again.
func TestDifferential_LastSubscriberLeavingEndsTheSubscription(t *testing.T) {
	type round struct {
		Subscribed []string `json:"subscribed"` // the clients subscribed during the round
		Received   []string `json:"received"`   // "client: payload", by client
	}
	differential(t, diffOptions{Subjects: interestSubjects}, func(t *testing.T, tg *diffTarget) []round {
		conns := map[string]*nats.Conn{"a": tg.Connect(t), "b": tg.Connect(t), "c": tg.Connect(t)}
		subs := map[string]*nats.Subscription{}
		subscribe := func(name string) {
			subs[name] = subscribeAll(t, conns[name], "billing.events", "", nil)
		}
		var obs []round
		publish := func() {
			r := round{Subscribed: []string{}, Received: []string{}}
			for _, name := range []string{"a", "b", "c"} {
				if subs[name] != nil && subs[name].IsValid() {
					r.Subscribed = append(r.Subscribed, name)
				}
			}
			payload := "round " + strconv.Itoa(len(obs))
			publishAll(t, tg.Pub, &nats.Msg{Subject: "billing.events", Data: []byte(payload)}, &nats.Msg{Subject: "billing.events", Data: []byte("fence")})
			for _, name := range r.Subscribed {
				for _, m := range receiveUntilPayload(t, subs[name], "fence") {
					r.Received = append(r.Received, name+": "+m)
				}
			}
			obs = append(obs, r)
		}
		subscribe("a")
		subscribe("b")
		subscribe("c")
		publish()
		if err := subs["a"].Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		flush(t, conns["a"])
		publish()
		if err := subs["b"].AutoUnsubscribe(1); err != nil { // b has 2 already: nats.go unsubscribes at once
			t.Fatal(err)
		}
		flush(t, conns["b"])
		conns["c"].Close()
		waitUpstreamHasNo(t, tg, "billing.events")
		publish()
		subscribe("b")
		publish()
		return obs
	})
}

// receiveUntilPayload returns the payloads sub receives before the first
// with payload end.
func receiveUntilPayload(t *testing.T, sub *nats.Subscription, end string) []string {
	t.Helper()
	var got []string
	for {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: after %q: %v", sub.Subject, got, err)
		}
		if string(m.Data) == end {
			return got
		}
		got = append(got, string(m.Data))
	}
}

func flush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitUpstreamHasNo waits until no client of the upstream server is
// subscribed to any of subjects (as a subscription's subject, not a match):
// nats-server's own client has left, or natsfan, once its last local
// subscriber left, has unsubscribed upstream.
func waitUpstreamHasNo(t *testing.T, tg *diffTarget, subjects ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the upstream server to drop its subscriptions to %v", subjects), func() bool {
		sz, err := tg.Upstream.Subsz(&server.SubszOptions{Subscriptions: true, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sz.Subs {
			for _, subj := range subjects {
				if s.Subject == subj {
					return false
				}
			}
		}
		return true
	})
}

// untilPong reads until the server's PONG, answering its PINGs, passing
// over an INFO (nats-server sends one after CONNECT), and failing on
// anything else.
func (rc *rawClient) untilPong(t *testing.T) {
	t.Helper()
	for {
		switch l := rc.line(t); l {
		case "PONG":
			return
		case "PING":
			rc.send(t, "PONG\r\n")
		default:
			if !strings.HasPrefix(l, "INFO ") {
				t.Fatalf("waiting for PONG: got %q", l)
			}
		}
	}
}

// untilMsgs reads MSG and HMSG frames until each of fenceSids has received
// one, and returns the payloads of the other sids' frames, in order, as
// "subject payload" by sid; frames on a fence's subject are left out
// whatever their sid.
func (rc *rawClient) untilMsgs(t *testing.T, fences map[string]string) map[string][]string {
	t.Helper()
	waiting := map[string]bool{}
	fenceSubjects := map[string]bool{}
	for sid, subj := range fences {
		waiting[sid] = true
		fenceSubjects[subj] = true
	}
	got := map[string][]string{}
	for len(waiting) > 0 {
		l := rc.line(t)
		switch {
		case l == "PING":
			rc.send(t, "PONG\r\n")
			continue
		case strings.HasPrefix(l, "INFO "):
			continue
		case !strings.HasPrefix(l, "MSG ") && !strings.HasPrefix(l, "HMSG "):
			t.Fatalf("after %q: got %q, want MSG or HMSG", got, l)
		}
		f := strings.Fields(l)
		size, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("frame %q: %v", l, err)
		}
		body := make([]byte, size+2)
		if _, err := io.ReadFull(rc.r, body); err != nil {
			t.Fatalf("frame %q: %v", l, err)
		}
		subject, sid := f[1], f[2]
		if fenceSubjects[subject] {
			delete(waiting, sid)
			continue
		}
		got[sid] = append(got[sid], subject+" "+string(body[:size]))
	}
	return got
}
