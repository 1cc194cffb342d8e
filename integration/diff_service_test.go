package integration

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// The service scenarios: a process behind natsfan serves requests from
// anywhere in the cluster. A queue subscription through natsfan joins the
// upstream queue group of the same name, so that it shares the load with
// the group's members elsewhere; a nats.go micro service through natsfan
// answers requests from upstream and is found by $SRV discovery.

// serviceCases are where natsfan serves the service's subjects: on
// interest (it buffers orders.> only) or buffered with the rest (">").
var serviceCases = requestCases

// bufferedQueueGroups is a difference natsfan makes on purpose (README,
// "Where natsfan differs from nats-server"): a member elsewhere handles its
// share and the pod's members handle every request again.
const bufferedQueueGroups = "a queue group on a buffered subject is the pod's own, not a member of the upstream group of its name"

// sharedLoad is what a queue group of two responders, one through natsfan
// and one on the upstream server, did with a series of requests. nats-server
// picks a member at random for each, so it is not an exact split.
type sharedLoad struct {
	Answered   int  `json:"answered"`    // requests that got a reply
	Handled    int  `json:"handled"`     // requests the two members handled in all (more than the requests: some were handled twice)
	BothServed bool `json:"both_served"` // each member handled at least one
}

// TestDifferential_QueueResponderSharesTheLoadWithUpstream: a responder in
// queue group "workers" through natsfan and one in the same group on the
// upstream server share the requests made from the upstream server or
// through natsfan: both handle some, each request once, and every request
// gets its reply.
func TestDifferential_QueueResponderSharesTheLoadWithUpstream(t *testing.T) {
	const n = 60
	for _, sc := range serviceCases {
		for _, from := range []string{"requests from upstream", "requests through natsfan"} {
			t.Run(sc.name+"/"+from, func(t *testing.T) {
				if sc.name == "buffered" {
					knownDifference(t, bufferedQueueGroups)
				}
				differential(t, diffOptions{Subjects: sc.subjects}, func(t *testing.T, tg *diffTarget) sharedLoad {
					var local, remote atomic.Int64
					serve := func(nc *nats.Conn, count *atomic.Int64) {
						subscribeAll(t, nc, "svc.work", "workers", func(m *nats.Msg) {
							count.Add(1)
							_ = m.Respond(append([]byte("done "), m.Data...))
						})
					}
					serve(tg.Connect(t), &local)
					serve(connect(t, tg.Upstream.ClientURL()), &remote)
					requester := tg.Pub
					if from == "requests through natsfan" {
						requester = tg.Connect(t)
					}
					obs := sharedLoad{}
					for i := range n {
						r, err := requester.Request("svc.work", []byte(strconv.Itoa(i)), requestTimeout)
						if err != nil {
							t.Logf("%s: request %d: %v", tg.Name, i, err)
							break // the rest would wait as long
						}
						if string(r.Data) == "done "+strconv.Itoa(i) {
							obs.Answered++
						}
					}
					obs.Handled = int(local.Load() + remote.Load())
					obs.BothServed = local.Load() > 0 && remote.Load() > 0
					t.Logf("%s: through natsfan %d, upstream %d", tg.Name, local.Load(), remote.Load())
					return obs
				})
			})
		}
	}
}

// TestDifferential_QueueResponderNatsJSSharesTheLoadWithUpstream: the same
// with a nats.js responder, and requests from upstream.
func TestDifferential_QueueResponderNatsJSSharesTheLoadWithUpstream(t *testing.T) {
	const n = 60
	for _, sc := range serviceCases {
		t.Run(sc.name, func(t *testing.T) {
			if sc.name == "buffered" {
				knownDifference(t, bufferedQueueGroups)
			}
			differential(t, diffOptions{Subjects: sc.subjects}, func(t *testing.T, tg *diffTarget) sharedLoad {
				var remote atomic.Int64
				subscribeAll(t, connect(t, tg.Upstream.ClientURL()), "svc.work", "workers", func(m *nats.Msg) {
					remote.Add(1)
					_ = m.Respond(append([]byte("done "), m.Data...))
				})
				js := startNode(t, "reply.js", "--url", tg.URL, "--subject", "svc.work", "--queue", "workers", "--prefix", "done ")
				js.Await(t, "serving")
				obs := sharedLoad{}
				for i := range n {
					r, err := tg.Pub.Request("svc.work", []byte(strconv.Itoa(i)), requestTimeout)
					if err != nil {
						t.Logf("%s: request %d: %v", tg.Name, i, err)
						break // the rest would wait as long
					}
					if string(r.Data) == "done "+strconv.Itoa(i) {
						obs.Answered++
					}
				}
				js.Resume(t)
				var served struct {
					Handled int64 `json:"handled"`
				}
				js.JSON(t, &served)
				obs.Handled = int(served.Handled + remote.Load())
				obs.BothServed = served.Handled > 0 && remote.Load() > 0
				t.Logf("%s: through natsfan %d, upstream %d", tg.Name, served.Handled, remote.Load())
				return obs
			})
		})
	}
}

// microObservation is what a client on the upstream server sees of a micro
// service: its replies, and its discovery answers without the instance id.
type microObservation struct {
	Add      replyObservation `json:"add"`       // a request to the endpoint
	Fail     replyObservation `json:"fail"`      // a request to an endpoint that responds with an error
	Ping     micro.Ping       `json:"ping"`      // the first answer to $SRV.PING
	PingName micro.Ping       `json:"ping_name"` // to $SRV.PING.adder
	Info     micro.Info       `json:"info"`      // to $SRV.INFO.adder
}

// TestDifferential_MicroServiceThroughNatsfan: a nats.go micro service
// through natsfan answers requests from the upstream server, errors
// included, and is found there by $SRV.PING and $SRV.INFO.
func TestDifferential_MicroServiceThroughNatsfan(t *testing.T) {
	for _, sc := range serviceCases {
		t.Run(sc.name, func(t *testing.T) {
			differential(t, diffOptions{Subjects: sc.subjects}, func(t *testing.T, tg *diffTarget) microObservation {
				nc := tg.Connect(t)
				svc, err := micro.AddService(nc, micro.Config{
					Name: "adder", Version: "1.2.3", Description: "adds numbers", Metadata: map[string]string{"team": "fan"},
					Endpoint: &micro.EndpointConfig{Subject: "svc.add", Handler: micro.HandlerFunc(func(r micro.Request) {
						var xs []int
						if err := json.Unmarshal(r.Data(), &xs); err != nil {
							_ = r.Error("400", "not a list of numbers", nil)
							return
						}
						sum := 0
						for _, x := range xs {
							sum += x
						}
						_ = r.Respond([]byte(strconv.Itoa(sum)))
					})},
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = svc.Stop() })
				flush(t, nc) // the server has the service's subscriptions
				var obs microObservation
				obs.Add = reply(tg.Pub.Request("svc.add", []byte("[1,2,39]"), requestTimeout))
				obs.Fail = reply(tg.Pub.Request("svc.add", []byte("one"), requestTimeout))
				discover := func(subject string, v any) {
					r, err := tg.Pub.Request(subject, nil, requestTimeout)
					if err != nil {
						t.Fatalf("%s: %v", subject, err)
					}
					if err := json.Unmarshal(r.Data, v); err != nil {
						t.Fatalf("%s: %v: %s", subject, err, r.Data)
					}
				}
				discover("$SRV.PING", &obs.Ping)
				discover("$SRV.PING.adder", &obs.PingName)
				discover("$SRV.INFO.adder", &obs.Info)
				for _, id := range []*string{&obs.Ping.ID, &obs.PingName.ID, &obs.Info.ID} {
					if *id != svc.Info().ID {
						t.Errorf("%s: discovery found service %q, want %q", tg.Name, *id, svc.Info().ID)
					}
					*id = "" // differs from run to run
				}
				return obs
			})
		})
	}
}

// TestDifferential_MicroServiceStatsCountItsRequests: the $SRV.STATS of a
// micro service through natsfan count what it served from upstream.
func TestDifferential_MicroServiceStatsCountItsRequests(t *testing.T) {
	type stats struct {
		Name        string `json:"name"`
		NumRequests int    `json:"num_requests"`
		NumErrors   int    `json:"num_errors"`
		LastError   string `json:"last_error"`
	}
	differential(t, diffOptions{Subjects: "orders.>"}, func(t *testing.T, tg *diffTarget) []stats {
		nc := tg.Connect(t)
		svc, err := micro.AddService(nc, micro.Config{Name: "echo", Version: "0.1.0",
			Endpoint: &micro.EndpointConfig{Subject: "svc.echo", Handler: micro.HandlerFunc(func(r micro.Request) {
				if len(r.Data()) == 0 {
					_ = r.Error("400", "empty", nil)
					return
				}
				_ = r.Respond(r.Data())
			})}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
		flush(t, nc)
		for _, data := range []string{"a", "", "b"} {
			if _, err := tg.Pub.Request("svc.echo", []byte(data), requestTimeout); err != nil {
				t.Fatal(err)
			}
		}
		var got micro.Stats
		// The service counts a request after its handler returns, which is
		// after the requester has its reply.
		waitFor(t, "the service to count 3 requests", func() bool {
			r, err := tg.Pub.Request("$SRV.STATS.echo", nil, requestTimeout)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			return len(got.Endpoints) == 1 && got.Endpoints[0].NumRequests == 3
		})
		var obs []stats
		for _, e := range got.Endpoints {
			obs = append(obs, stats{Name: e.Name, NumRequests: e.NumRequests, NumErrors: e.NumErrors, LastError: e.LastError})
		}
		return obs
	})
}
