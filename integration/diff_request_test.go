package integration

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The request/reply scenarios: a client requests through natsfan (or of
// nats-server), and a responder answers from the upstream server or through
// natsfan too. Replies go to the requester's inbox: nats.go's new style
// subscribes once to a wildcard inbox (_INBOX.<id>.*), its old style and
// nats.js's noMux to an inbox per request. With nobody subscribed to the
// subject, the server answers at once with a 503 status (no responders),
// which nats.go and nats.js turn into an error.

// replyObservation is what a requester sees of a reply: not its subject,
// which is an inbox of the requester's own making.
type replyObservation struct {
	Payload []byte        `json:"payload"`
	Headers []headerField `json:"headers"`
	Err     string        `json:"err,omitempty"` // the request's error instead of a reply
}

// requestCases are where natsfan serves the request subject and the
// inboxes: on interest (it buffers orders.> only), or buffered with the
// rest (">").
var requestCases = []struct {
	name     string
	subjects string
}{
	{"on interest", "orders.>"},
	{"buffered", ">"},
}

// bufferedNoResponders is why a request on a buffered subject nobody serves
// times out through natsfan (README, Connecting).
const bufferedNoResponders = "a request on a buffered subject gets no no-responders status: natsfan's own upstream subscription to the subject counts as a responder"

// requestStyles are nats.go's two ways of waiting for a reply.
var requestStyles = []struct {
	name string
	opts []nats.Option
}{
	{"new style", nil},
	{"old style", []nats.Option{nats.UseOldRequestStyle()}},
}

// respond makes nc answer each request on subject with "re: " and its
// payload, and its Req-Id header and one of its own, and flushes, so that
// the server has the subscription.
func respond(t *testing.T, nc *nats.Conn, subject, queue, who string) *nats.Subscription {
	t.Helper()
	return subscribeAll(t, nc, subject, queue, func(m *nats.Msg) {
		r := &nats.Msg{Subject: m.Reply, Data: append([]byte("re: "), m.Data...), Header: nats.Header{"Responder": {who}}}
		if id := m.Header.Get("Req-Id"); id != "" {
			r.Header.Set("Req-Id", id)
		}
		_ = m.RespondMsg(r)
	})
}

// requestTimeout is how long a requester waits for a reply: a reply on
// loopback takes milliseconds, and a no-responders status comes as fast.
const requestTimeout = 2 * time.Second

// request sends n requests on subject, with a header on the odd ones and
// an empty payload on the first, and returns the replies, up to the first
// error.
func request(t *testing.T, nc *nats.Conn, subject string, n int) []replyObservation {
	t.Helper()
	var got []replyObservation
	for i := range n {
		m := &nats.Msg{Subject: subject}
		if i > 0 {
			m.Data = []byte("request " + strconv.Itoa(i))
		}
		if i%2 == 1 {
			m.Header = nats.Header{"Req-Id": {strconv.Itoa(i)}}
		}
		r, err := nc.RequestMsg(m, requestTimeout)
		got = append(got, reply(r, err))
		if err != nil {
			break
		}
	}
	return got
}

// reply is what a requester observes of a request's outcome.
func reply(r *nats.Msg, err error) replyObservation {
	if err != nil {
		return replyObservation{Err: err.Error()}
	}
	rec := received(r)
	return replyObservation{Payload: rec.Payload, Headers: rec.Headers}
}

// TestDifferential_RequestNatsGo: nats.go requests through natsfan, new and
// old style, reach a responder on the upstream server or one through
// natsfan, and every reply comes back, headers intact.
func TestDifferential_RequestNatsGo(t *testing.T) {
	for _, rc := range requestCases {
		for _, style := range requestStyles {
			for _, where := range []string{"responder upstream", "responder through natsfan"} {
				t.Run(rc.name+"/"+style.name+"/"+where, func(t *testing.T) {
					differential(t, diffOptions{Subjects: rc.subjects}, func(t *testing.T, tg *diffTarget) []replyObservation {
						responder := tg.Pub
						if where == "responder through natsfan" {
							responder = tg.Connect(t)
						}
						respond(t, responder, "svc.echo", "", "one")
						return request(t, tg.Connect(t, style.opts...), "svc.echo", 4)
					})
				})
			}
		}
	}
}

// TestDifferential_RequestWithNoRespondersFailsAtOnce: a request on a
// subject nobody serves gets nats.ErrNoResponders, not a timeout, from
// nats.go new and old style, whether or not natsfan buffers the subject.
func TestDifferential_RequestWithNoRespondersFailsAtOnce(t *testing.T) {
	for _, rc := range requestCases {
		for _, style := range requestStyles {
			t.Run(rc.name+"/"+style.name, func(t *testing.T) {
				if rc.name == "buffered" {
					knownDifference(t, bufferedNoResponders)
				}
				differential(t, diffOptions{Subjects: rc.subjects}, func(t *testing.T, tg *diffTarget) replyObservation {
					nc := tg.Connect(t, style.opts...)
					_, err := nc.Request("nobody.home", []byte("anyone?"), requestTimeout)
					if err != nil && !errors.Is(err, nats.ErrNoResponders) {
						t.Logf("%s: %v", tg.Name, err)
					}
					return reply(nil, err)
				})
			})
		}
	}
}

// TestDifferential_RequestNatsJS: nats.js requests through natsfan, with
// its shared inbox and with an inbox per request (noMux), reach a responder
// on the upstream server or one through natsfan; a request nobody serves
// fails with no responders.
func TestDifferential_RequestNatsJS(t *testing.T) {
	type requested struct {
		Replies      []replyObservation `json:"replies"`
		NoMux        []replyObservation `json:"no_mux"`
		NoResponders string             `json:"no_responders"` // the error of a request nobody serves
	}
	for _, rc := range requestCases {
		for _, where := range []string{"responder upstream", "responder through natsfan"} {
			t.Run(rc.name+"/"+where, func(t *testing.T) {
				differential(t, diffOptions{Subjects: rc.subjects}, func(t *testing.T, tg *diffTarget) requested {
					responder := tg.Pub
					if where == "responder through natsfan" {
						responder = tg.Connect(t)
					}
					respond(t, responder, "svc.echo", "", "one")
					args := []string{"--url", tg.URL, "--subject", "svc.echo", "--count", "4"}
					if rc.name != "buffered" { // bufferedNoResponders: TestDifferential_RequestWithNoRespondersFailsAtOnce shows it
						args = append(args, "--nobody", "nobody.home")
					}
					var obs requested
					decodeObservation(t, "request.js", runNode(t, "request.js", args...), &obs)
					return obs
				})
			})
		}
	}
}
