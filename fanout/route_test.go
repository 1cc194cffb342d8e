package fanout_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/subjects"
)

// received collects the payloads one nats.go subscription received.
type received struct {
	mu   sync.Mutex
	msgs []int
}

func (r *received) add(m *nats.Msg) {
	n, _ := strconv.Atoi(string(m.Data))
	r.mu.Lock()
	r.msgs = append(r.msgs, n)
	r.mu.Unlock()
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// waitReceived waits until subscription got[i] has received counts[i]
// messages, each of them, or fails after a deadline.
func waitReceived(t *testing.T, got []*received, counts ...int) {
	t.Helper()
	for i := range got {
		waitFor(t, fmt.Sprintf("subscription %d to receive %d messages", i, counts[i]), func() bool { return got[i].count() >= counts[i] })
	}
}

// lens returns the length of each of want.
func lens(want [][]int) []int {
	n := make([]int, len(want))
	for i := range want {
		n[i] = len(want[i])
	}
	return n
}

// TestServer_EachSUBGetsExactlyTheMessagesItsSubjectMatches reads a
// stream of mixed subjects through consumers that want parts of it: one
// literal subject, two, wildcards, the whole stream, a subject also
// covered by a second SUB of the same client, and one subject for three
// clients. Batches of 1 to 40 messages come in bursts, and feeds park after
// a millisecond, so that messages reach feeds that wait for the router,
// for the stream, and that have parked. Each SUB must receive exactly the
// messages its subject matches, in order.
func TestServer_EachSUBGetsExactlyTheMessagesItsSubjectMatches(t *testing.T) {
	checkEachSUBGetsItsMessages(t, 0)
}

// TestServer_EachSUBGetsItsMessagesFromARouterThatFallsBehind is the test
// above with routers that hold at most 4 KiB of batches to route: now and
// then they drop what they hold, and every feed must read all of it.
func TestServer_EachSUBGetsItsMessagesFromARouterThatFallsBehind(t *testing.T) {
	checkEachSUBGetsItsMessages(t, 4<<10)
}

// checkEachSUBGetsItsMessages runs the two tests above; routeBudget 0
// leaves the routers' budget as it is.
func checkEachSUBGetsItsMessages(t *testing.T, routeBudget uint64) {
	m := startMonitored(t, fanout.ServerConfig{IdleAfter: time.Millisecond})
	if routeBudget > 0 {
		fanout.SetRouteBudget(m.srv, routeBudget)
	}
	clients := [][]string{{"a.0"}, {"a.1"}, {"a.2", "a.3"}, {"a.*"}, {"a.>"}, {"a.*.x"}, {"a.0", "a.>"}, {"a.4"}, {"a.4"}, {"a.4"}}
	var subs []string
	var got []*received
	for i, patterns := range clients {
		nc := m.natsConn(t, fmt.Sprint("c", i))
		for _, p := range patterns {
			r := &received{}
			if _, err := nc.Subscribe(p, r.add); err != nil {
				t.Fatal(err)
			}
			subs, got = append(subs, p), append(got, r)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	pick := []string{"a.0", "a.1", "a.2", "a.3", "a.4", "a.5", "a.0.x", "a.6.x", "a.7.y"}
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([][]int, len(subs))
	st := m.hub.Streams()[0]
	for n := 0; n < 4000; {
		batch := make([]fanout.Incoming, 1+rng.IntN(40))
		for i := range batch {
			subject := pick[rng.IntN(len(pick))]
			batch[i] = fanout.Incoming{Subject: subject, Data: []byte(strconv.Itoa(n))}
			for k, p := range subs {
				if subjects.Match(p, subject) {
					want[k] = append(want[k], n)
				}
			}
			n++
		}
		st.Append(time.Now(), batch...)
		if rng.IntN(20) == 0 { // a lull: feeds catch up, and some park
			waitReceived(t, got, lens(want)...)
		}
	}
	waitReceived(t, got, lens(want)...)
	for k := range subs {
		got[k].mu.Lock()
		if !slices.Equal(got[k].msgs, want[k]) {
			t.Errorf("SUB %d (%s) received %d messages, want %d; first %v, want %v", k, subs[k], len(got[k].msgs), len(want[k]), got[k].msgs[:min(10, len(got[k].msgs))], want[k][:min(10, len(want[k]))])
		}
		got[k].mu.Unlock()
	}
}

// quietAndBusy connects two consumers of stream a.>, on a.quiet and on
// a.busy, and has the quiet one receive a message.
func quietAndBusy(t *testing.T, m *monitored) (quiet, busy *received, ncQuiet *nats.Conn) {
	t.Helper()
	quiet, busy = &received{}, &received{}
	ncQuiet, ncBusy := m.natsConn(t, "quiet"), m.natsConn(t, "busy")
	if _, err := ncQuiet.Subscribe("a.quiet", quiet.add); err != nil {
		t.Fatal(err)
	}
	if _, err := ncBusy.Subscribe("a.busy", busy.add); err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{ncQuiet, ncBusy} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	m.hub.Streams()[0].Append(time.Now(), fanout.Incoming{Subject: "a.quiet", Data: []byte("0")})
	waitReceived(t, []*received{quiet}, 1)
	return quiet, busy, ncQuiet
}

// TestServer_AQuietSUBOutlivesItsLagLimitOfOtherSubjects has a consumer
// wait on a subject that receives nothing while another takes four times
// the lag limit on a subject of the same stream: the quiet consumer is no
// slow consumer, as it is behind on nothing it was sent, and it receives
// the next message on its subject.
func TestServer_AQuietSUBOutlivesItsLagLimitOfOtherSubjects(t *testing.T) {
	const limit = 1 << 20
	m := startMonitored(t, fanout.ServerConfig{IdleAfter: time.Hour}, fanout.WithLagLimit(buffer.Lag{MaxBytes: limit}), fanout.WithSweepInterval(time.Millisecond))
	quiet, busy, ncQuiet := quietAndBusy(t, m)
	st := m.hub.Streams()[0]

	payload := make([]byte, 1024)
	const n = 4 * limit / 1024
	for i := range n {
		st.Append(time.Now(), fanout.Incoming{Subject: "a.busy", Data: payload})
		if i%256 == 255 {
			waitReceived(t, []*received{busy}, i+1)
		}
	}
	st.Append(time.Now(), fanout.Incoming{Subject: "a.quiet", Data: []byte("1")})
	waitReceived(t, []*received{quiet, busy}, 2, n)
	if !ncQuiet.IsConnected() {
		t.Fatalf("the quiet consumer was disconnected: %v", ncQuiet.LastError())
	}
}

// TestServer_AQuietSUBHoldsNothingOfWhatCameAfterIt has one consumer
// receive a message and go quiet while another receives 128 MiB on
// another subject of the stream, which retains 1 MiB. Whatever the server
// keeps of the quiet consumer (where it stands, what the router routed to
// it) must not hold the messages that came after: the live heap stays
// far below what passed through.
func TestServer_AQuietSUBHoldsNothingOfWhatCameAfterIt(t *testing.T) {
	m := startMonitored(t, fanout.ServerConfig{IdleAfter: time.Hour}, fanout.WithRetention(buffer.Retention{MaxBytes: 1 << 20}))
	_, busy, _ := quietAndBusy(t, m)
	st := m.hub.Streams()[0]

	before := heapAfterGC()
	const size, batch, n = 4096, 64, 32 << 10 // 128 MiB
	msgs := make([]fanout.Incoming, batch)
	for i := 0; i < n; i += batch {
		for k := range msgs {
			msgs[k] = fanout.Incoming{Subject: "a.busy", Data: make([]byte, size)}
		}
		st.Append(time.Now(), msgs...)
		if i%(8*batch) == 0 {
			waitReceived(t, []*received{busy}, i+batch)
		}
	}
	waitReceived(t, []*received{busy}, n)
	if live := int64(heapAfterGC()) - int64(before); live > 32<<20 {
		t.Fatalf("%d MiB live after 128 MiB passed a quiet consumer; the stream retains 1 MiB", live>>20)
	}
}
