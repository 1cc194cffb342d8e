package integration

import (
	"bufio"
	"bytes"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/subjects"
)

// The publish scenarios: the client under test publishes, through natsfan
// or to nats-server, and subscribers straight on the upstream server,
// through natsfan, and on the publisher's own connection report what they
// received. natsfan forwards a local publish upstream over its one
// connection; a local subscriber gets it once, whether natsfan buffers the
// subject (the message comes back from upstream) or serves it on interest.

// publishedMessages are what the publishers publish, in this order, on
// subjects under prefix: PUB and HPUB, reply subjects, several values for a
// header key and a key in lower case, empty and binary payloads (with CR LF
// and protocol verbs inside), and the end, prefix.end. Header keys are in
// byte order (see TestDifferential_HeaderOrderNatsJS); integration/js/
// publish.js publishes the same.
func publishedMessages(prefix string) []*nats.Msg {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	return []*nats.Msg{
		{Subject: prefix + ".plain", Data: []byte("hello")},
		{Subject: prefix + ".reply", Reply: "answers.here", Data: []byte("with a reply subject")},
		{Subject: prefix + ".empty"},
		{Subject: prefix + ".binary", Data: binary},
		{Subject: prefix + ".headers", Reply: "_INBOX.elsewhere.1", Data: []byte(`{"id":42}`),
			Header: nats.Header{"Order-Id": {"42"}, "Trace": {"a", "b", "c d"}, "lower-case": {"v"}}},
		{Subject: prefix + ".headers.only", Header: nats.Header{"Only": {"header"}}},
		{Subject: prefix + ".protocol", Data: []byte("PING\r\nPUB x 1\r\n\r\nMSG a 1 2\r\n")},
		{Subject: prefix + ".plain", Data: []byte("second")},
		{Subject: prefix + ".end", Data: []byte("end")},
	}
}

// publishObservation is what each subscriber to prefix.> received of a
// client's publishes, in order.
type publishObservation struct {
	Upstream []receivedMsg `json:"upstream"` // a subscriber straight on the upstream server
	Local    []receivedMsg `json:"local"`    // a subscriber on another connection of the client's kind (through natsfan)
	Own      []receivedMsg `json:"own"`      // the publisher's own subscription (echo)
}

// publishCases are the two ways natsfan serves the subjects published on:
// buffered (NATSFAN_SUBJECTS covers them; the local subscriber's copy comes
// back from upstream) and on interest.
var publishCases = []struct {
	name     string
	subjects string // NATSFAN_SUBJECTS; the scenarios publish on pub.>
}{
	{"buffered", "pub.>"},
	{"on interest", "orders.>"},
}

// TestDifferential_PublishNatsGo: what a nats.go client publishes reaches a
// subscriber on the upstream server, one through natsfan and the
// publisher's own, each message once, in order, headers and payloads
// intact.
func TestDifferential_PublishNatsGo(t *testing.T) {
	for _, pc := range publishCases {
		t.Run(pc.name, func(t *testing.T) {
			differential(t, diffOptions{Subjects: pc.subjects}, func(t *testing.T, tg *diffTarget) publishObservation {
				upstream := subscribeAll(t, tg.Pub, "pub.>", "", nil)
				local := subscribeAll(t, tg.Connect(t), "pub.>", "", nil)
				pub := tg.Connect(t)
				own := subscribeAll(t, pub, "pub.>", "", nil)
				publishAll(t, pub, publishedMessages("pub")...)
				obs := publishObservation{Upstream: receiveUntil(t, upstream, "pub.end")}
				got := untilFences(t, tg, []string{"pub.fence"}, local, own, upstream)
				obs.Local, obs.Own = got[0], got[1]
				if len(got[2]) != 0 {
					t.Errorf("the upstream subscriber received %d messages after the end", len(got[2]))
				}
				return obs
			})
		})
	}
}

// TestDifferential_PublishNatsJS: what a nats.js client publishes reaches
// a subscriber on the upstream server, one through natsfan and the
// publisher's own, each message once, in order.
func TestDifferential_PublishNatsJS(t *testing.T) {
	for _, pc := range publishCases {
		t.Run(pc.name, func(t *testing.T) {
			differential(t, diffOptions{Subjects: pc.subjects}, func(t *testing.T, tg *diffTarget) publishObservation {
				upstream := subscribeAll(t, tg.Pub, "pub.>", "", nil)
				js := startNode(t, "publish.js", "--url", tg.URL, "--prefix", "pub", "--fence", "pub.fence")
				js.Await(t, "published")
				obs := publishObservation{Upstream: receiveUntil(t, upstream, "pub.end")}
				publishFences(t, tg, "pub.fence")
				js.Resume(t)
				var mine publishObservation
				js.JSON(t, &mine)
				obs.Local, obs.Own = mine.Local, mine.Own
				return obs
			})
		})
	}
}

// TestDifferential_PublisherReceivesItsOwnOnceUnlessNoEcho: a publisher
// subscribed to what it publishes, on a subject natsfan buffers and on one
// it serves on interest, receives each of its messages once, or none with
// echo off (nats.NoEcho); a subscriber on another connection receives each
// once either way.
func TestDifferential_PublisherReceivesItsOwnOnceUnlessNoEcho(t *testing.T) {
	for _, echo := range []bool{true, false} {
		t.Run("echo "+strconv.FormatBool(echo), func(t *testing.T) {
			differential(t, diffOptions{Subjects: "orders.>"}, func(t *testing.T, tg *diffTarget) localPublishObservation {
				return publishLocally(t, tg, echo, []string{"orders.>", "billing.>"})
			})
		})
	}
}

// TestDifferential_SpanningSubscriptionOfALocalPublisher: subscriptions
// through natsfan to patterns that span a buffered and an unbuffered
// subject (> and *.eu with orders.> buffered), on the publisher's
// connection and another, receive each message a local client publishes
// once, in the order it published them, as from nats-server.
func TestDifferential_SpanningSubscriptionOfALocalPublisher(t *testing.T) {
	differential(t, diffOptions{Subjects: "orders.>"}, func(t *testing.T, tg *diffTarget) localPublishObservation {
		return publishLocally(t, tg, true, []string{">", "*.eu"})
	})
}

// localPublishObservation is what subscriptions on a local publisher's
// connection and on another received of its messages.
type localPublishObservation struct {
	Own   map[string][]string `json:"own"`   // the publisher's subscriptions: pattern → payloads received, in order
	Other map[string][]string `json:"other"` // another connection's
}

// publishLocally subscribes a publisher through natsfan (with echo or not)
// and another connection to patterns, has the publisher publish on
// orders.eu (buffered) and billing.eu (not) in turn, then billing.end, and
// returns what each subscription received before the fences.
func publishLocally(t *testing.T, tg *diffTarget, echo bool, patterns []string) localPublishObservation {
	t.Helper()
	var opts []nats.Option
	if !echo {
		opts = append(opts, nats.NoEcho())
	}
	pub, other := tg.Connect(t, opts...), tg.Connect(t)
	var subs []*nats.Subscription
	for _, nc := range []*nats.Conn{pub, other} {
		for _, p := range patterns {
			subs = append(subs, subscribeAll(t, nc, p, "", nil))
		}
	}
	watch := subscribeAll(t, tg.Pub, "billing.end", "", nil)
	var msgs []*nats.Msg
	for i := range 3 {
		msgs = append(msgs,
			&nats.Msg{Subject: "orders.eu", Data: []byte("order " + strconv.Itoa(i))},
			&nats.Msg{Subject: "billing.eu", Data: []byte("bill " + strconv.Itoa(i))})
	}
	publishAll(t, pub, append(msgs, &nats.Msg{Subject: "billing.end", Data: []byte("end")})...)
	receiveUntil(t, watch, "billing.end") // upstream has them all
	got := untilFences(t, tg, []string{"orders.eu", "billing.eu"}, subs...)
	obs := localPublishObservation{Own: map[string][]string{}, Other: map[string][]string{}}
	for i, p := range patterns {
		obs.Own[p], obs.Other[p] = payloads(got[i]), payloads(got[len(patterns)+i])
	}
	return obs
}

// TestDifferential_MaxPayloadIsTheUpstreams: natsfan advertises the
// upstream server's max_payload, not a default of its own: a client may
// publish that much and no more (nats.go refuses more itself; a client that
// sends more anyway is told so and closed).
func TestDifferential_MaxPayloadIsTheUpstreams(t *testing.T) {
	type limits struct {
		MaxPayload int64  `json:"max_payload"` // nc.MaxPayload(): INFO max_payload
		AtLimit    int    `json:"at_limit"`    // bytes a subscriber received of a publish of max_payload bytes
		OverLimit  string `json:"over_limit"`  // nats.go's error for one byte more
		Raw        string `json:"raw"`         // the last line a raw client got for a PUB line of one byte more, before the server closed it
	}
	const max = 48 * 1024
	opts := diffOptions{Subjects: "orders.>", Upstream: func(o *server.Options) { o.MaxPayload = max }}
	differential(t, opts, func(t *testing.T, tg *diffTarget) limits {
		nc := tg.Connect(t)
		sub := subscribeAll(t, tg.Pub, "big", "", nil)
		obs := limits{MaxPayload: nc.MaxPayload()}
		publishAll(t, nc, &nats.Msg{Subject: "big", Data: bytes.Repeat([]byte("x"), max)})
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		obs.AtLimit = len(m.Data)
		if err := nc.Publish("big", bytes.Repeat([]byte("x"), max+1)); err != nil {
			obs.OverLimit = err.Error()
		}
		rc := dialRawURL(t, tg.URL)
		// The PUB line alone: nats-server refuses it before the payload, and
		// a payload it never read would reset the connection before the
		// client could read the -ERR.
		rc.send(t, `CONNECT {"verbose":false,"pedantic":false,"protocol":1}`+"\r\nPUB big "+strconv.Itoa(max+1)+"\r\n")
		obs.Raw = rc.closedAfter(t)
		return obs
	})
}

// TestDifferential_MaxPayloadIsTheUpstreamsNatsJS: nats.js sees the
// upstream server's max_payload through natsfan.
func TestDifferential_MaxPayloadIsTheUpstreamsNatsJS(t *testing.T) {
	opts := diffOptions{Upstream: func(o *server.Options) { o.MaxPayload = 48 * 1024 }}
	differential(t, opts, func(t *testing.T, tg *diffTarget) connectObservation {
		var obs connectObservation
		decodeObservation(t, "connect.js", runNode(t, "connect.js", "--url", tg.URL), &obs)
		return obs
	})
}

// untilFences publishes a fence on each of fences, in order, straight on the
// upstream server (tg.Pub), and returns what each of subs received before
// the fences its subject matches, without them. The caller first makes sure
// the upstream server has everything published before (a subscriber on it
// has received the last message), so that whatever reaches subs after the
// fences was not published before them. Through natsfan a message can reach
// a local subscriber by two paths, from a buffer or from a subscription on
// interest: fence each path (a buffered subject and an unbuffered one) to
// see a message delivered twice, once by each. A fence is a message with
// the payload fencePayload, so it may share its subject with others.
func untilFences(t *testing.T, tg *diffTarget, fences []string, subs ...*nats.Subscription) [][]receivedMsg {
	t.Helper()
	publishFences(t, tg, fences...)
	got := make([][]receivedMsg, len(subs))
	for i, sub := range subs {
		want := map[string]bool{}
		for _, f := range fences {
			if subjects.Match(sub.Subject, f) {
				want[f] = true
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s matches none of the fences %v", sub.Subject, fences)
		}
		got[i] = []receivedMsg{}
		for len(want) > 0 {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("%s: waiting for the fences %v after %d messages: %v", sub.Subject, want, len(got[i]), err)
			}
			if want[m.Subject] && string(m.Data) == fencePayload {
				delete(want, m.Subject)
				continue
			}
			got[i] = append(got[i], received(m))
		}
	}
	return got
}

// fencePayload is the payload of the fences untilFences publishes.
const fencePayload = "-- fence --"

// publishFences publishes a fence (fencePayload) on each subject, in order,
// straight on the upstream server (tg.Pub), and flushes.
func publishFences(t *testing.T, tg *diffTarget, fences ...string) {
	t.Helper()
	for _, f := range fences {
		if err := tg.Pub.Publish(f, []byte(fencePayload)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.Pub.Flush(); err != nil {
		t.Fatal(err)
	}
}

// payloads returns the payloads of msgs as strings, [] for none.
func payloads(msgs []receivedMsg) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, string(m.Payload))
	}
	return out
}

// dialRawURL connects a raw protocol client to nats://host:port over TCP
// (nats-server's client port, natsfan's NATSFAN_LISTEN) and reads the INFO.
func dialRawURL(t *testing.T, u string) *rawClient {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", parsed.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{Conn: c, r: bufio.NewReader(c)}
	if line := rc.line(t); !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first line %q, want INFO", line)
	}
	return rc
}

// TestDifferential_PublishedHeaderBlockArrivesVerbatim: a header block a
// client publishes (keys out of order, in mixed case, one repeated, a value
// with spaces) reaches a subscriber on the upstream server byte for byte,
// as nats-server forwards it, whether natsfan buffers the subject or not.
// nats.go and nats.js would hide a difference: nats.go keeps headers in a
// map, so this client and the subscriber speak the protocol by hand.
//
// natsfan differs, on purpose for now (README, "Where natsfan differs from
// nats-server"): it publishes upstream with nats.go, which keeps headers in
// a map. Run with KNOWN_DIFFERENCES=1.
func TestDifferential_PublishedHeaderBlockArrivesVerbatim(t *testing.T) {
	knownDifference(t, "natsfan publishes header blocks upstream re-encoded from a map: keys in no set order, a repeated key's values together, one space after the colon")
	const header = "NATS/1.0\r\nZulu: 1\r\nalpha: two words\r\nZulu: 3\r\nMike:4\r\n\r\n"
	for _, pc := range publishCases {
		t.Run(pc.name, func(t *testing.T) {
			differential(t, diffOptions{Subjects: pc.subjects}, func(t *testing.T, tg *diffTarget) map[string][]string {
				connect := `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true}` + "\r\n"
				up := dialRawURL(t, tg.Upstream.ClientURL())
				up.send(t, connect+"SUB pub.> 1\r\nSUB pub.end 90\r\nPING\r\n")
				up.untilPong(t)
				pub := dialRawURL(t, tg.URL)
				payload := "body\r\nwith CR LF"
				pub.send(t, connect+
					"HPUB pub.headers reply.to "+strconv.Itoa(len(header))+" "+strconv.Itoa(len(header)+len(payload))+"\r\n"+header+payload+"\r\n"+
					"HPUB pub.only "+strconv.Itoa(len(header))+" "+strconv.Itoa(len(header))+"\r\n"+header+"\r\n"+
					"PUB pub.end 0\r\n\r\nPING\r\n")
				pub.untilPong(t)
				return up.untilMsgs(t, map[string]string{"90": "pub.end"})
			})
		})
	}
}
