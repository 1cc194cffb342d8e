package integration

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// queueSplit is what the members of a queue group received.
type queueSplit struct {
	Delivered  int  `json:"delivered"`  // messages received by the group in all
	Duplicates int  `json:"duplicates"` // messages received more than once
	Balanced   bool `json:"balanced"`   // every member got at least 30% of its fair share's double: nats-server picks at random, so about an even split
}

// queueMembers counts what each member of queue group workers receives.
type queueMembers struct {
	mu     sync.Mutex
	seen   map[string]int
	counts []int
}

// joinQueue subscribes n nats.go connections to subject in queue group
// workers, each taking work per message, and returns the connections.
func joinQueue(t *testing.T, tg *diffTarget, n int, subject string, work time.Duration) (*queueMembers, []*nats.Conn) {
	t.Helper()
	q := &queueMembers{seen: map[string]int{}, counts: make([]int, n)}
	conns := make([]*nats.Conn, n)
	for i := range n {
		conns[i] = tg.Connect(t)
		subscribeAll(t, conns[i], subject, "workers", func(m *nats.Msg) {
			if work > 0 {
				time.Sleep(work) // the member's work on the message, not synchronisation
			}
			q.mu.Lock()
			q.seen[string(m.Data)]++
			q.counts[i]++
			q.mu.Unlock()
		})
	}
	return q, conns
}

// split waits until the group has received want messages, or 10 s have
// passed, and returns what it received.
func (q *queueMembers) split(want int) (queueSplit, []int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		done := len(q.seen) >= want
		q.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s := queueSplit{Balanced: true}
	for _, times := range q.seen {
		s.Delivered++
		if times > 1 {
			s.Duplicates++
		}
	}
	for _, c := range q.counts {
		if c*len(q.counts)*10 < want*3 {
			s.Balanced = false
		}
	}
	return s, append([]int(nil), q.counts...)
}

func publishJobs(t *testing.T, pub *nats.Conn, subject string, n int) {
	t.Helper()
	for i := range n {
		if err := pub.Publish(subject, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestDifferential_QueueGroupSplitsTheMessages: two members that read
// eagerly, as client libraries do, share the messages about evenly, each
// exactly once, however fast each reads.
func TestDifferential_QueueGroupSplitsTheMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		work time.Duration
	}{
		{"eager readers", 2000, 0},
		{"workers taking 2ms a message", 500, 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			differential(t, diffOptions{}, func(t *testing.T, tg *diffTarget) queueSplit {
				q, _ := joinQueue(t, tg, 2, "jobs.run", tc.work)
				start := time.Now()
				publishJobs(t, tg.Pub, "jobs.run", tc.n)
				s, counts := q.split(tc.n)
				t.Logf("%s: split %v in %v", tg.Name, counts, time.Since(start).Round(time.Millisecond))
				return s
			})
		})
	}
}

// TestDifferential_QueueMemberThatLeavesLosesNothing: once a member has
// unsubscribed (and the server has said so with a PONG), every message goes
// to the members that are left, whichever member joined first.
func TestDifferential_QueueMemberThatLeavesLosesNothing(t *testing.T) {
	type left struct {
		FirstLeaves  int `json:"first_leaves"`  // what the remaining member received when the first to join left
		SecondLeaves int `json:"second_leaves"` // and when the second left
	}
	const n = 20
	differential(t, diffOptions{}, func(t *testing.T, tg *diffTarget) left {
		received := func(leaver int) int {
			subject := "jobs.quiet." + strconv.Itoa(leaver)
			q, conns := joinQueue(t, tg, 2, subject, 0)
			// The leaver closes its connection with a flush: the server has
			// the UNSUBs nats.go sends on close before the PONG.
			if err := conns[leaver].Drain(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the leaver to close", conns[leaver].IsClosed)
			publishJobs(t, tg.Pub, subject, n)
			s, _ := q.split(n)
			return s.Delivered
		}
		return left{FirstLeaves: received(0), SecondLeaves: received(1)}
	})
}
