package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// pubSubject is what the publish section's publishers publish on. It is
// outside benchSubjects, so natsfan passes it upstream without buffering
// it, and does not receive its own publishes back.
const pubSubject = "pub.x"

// runPublish runs the publish section: every cell of N and mode, c.runs
// times, and returns the medians. The modes take turns within each run, so
// that a spell of load on the machine spoils one run of each rather than
// every run of one.
func runPublish(c *config, sc sidecar, dir string, stdout io.Writer) ([]pubResult, error) {
	ms := c.clientModes()
	var results []pubResult
	for _, n := range c.pubNs {
		runs := make([][]pubResult, len(ms))
		for range c.runs {
			for j, m := range ms {
				cl := pubCell{mode: m, n: n, size: c.pubSize, messages: c.pubMessages / n * n}
				began := time.Now()
				r, err := cl.run(sc, dir)
				if err != nil {
					return nil, fmt.Errorf("publish, %s, %d publisher%s: %w", m.name, n, plural(n), err)
				}
				fmt.Fprintf(stdout, "  publish %-15s %2d publisher%-1s %-6s %7d published, %7d received: %s msgs/s, lost %d%s (%.1f s)\n",
					m.name, n, plural(n), sizeName(c.pubSize), r.Published, r.Received, rateString(r.Rate), r.Lost, whyColumn(r.Why), time.Since(began).Seconds())
				runs[j] = append(runs[j], r)
			}
		}
		for _, rs := range runs {
			results = append(results, pubMedianOf(rs))
		}
	}
	return results, nil
}

// pubCell is one measurement of the publish section: n publishers in the
// pod, each a nats.go connection to mode's endpoint, publish messages
// (in all, messages ÷ n each) of size bytes as fast as they can, and one
// receiver, a nats.go subscriber connected to the upstream directly,
// counts what arrives.
type pubCell struct {
	mode     mode
	n        int // publishers
	size     int // payload bytes
	messages int // published in all
}

// pubResult is what one publish cell measured.
type pubResult struct {
	Mode string
	N    int
	Size int

	Published int64 // messages the publishers published
	Received  int64 // what the receiver got of them
	Lost      int64 // Published − Received; negative if some arrived twice
	Reordered int64 // received after a later message of the same publisher (or twice)
	// ReachedUpstream is how many messages the upstream received during
	// the burst (its InMsgs): fewer than Published, and the rest were lost
	// on the way (in a leaf node, in natsfan); as many, and they were lost
	// between the upstream and the receiver.
	ReachedUpstream int64
	Rate            float64    // Received ÷ the time from the first publish to the last receipt
	RateRange       [2]float64 // the lowest and highest Rate of the runs pubMedianOf combined
	PubRate         float64    // Published ÷ the time until every publisher's Flush returned

	Upstream int     // connections the upstream served for the pod's publishers: N direct, one leaf or natsfan
	CPUPerM  float64 // CPU seconds of the leaf node or sidecar per million messages received; NaN: n/a
	PeakRSS  int64   // VmHWM of the leaf node or sidecar, bytes; 0: n/a
	Why      string  // what went wrong, if anything: errors the publishers saw, slow consumers, disconnects
}

// run measures the cell on a fresh upstream, endpoint, publishers and
// receiver, which it stops before it returns.
func (c pubCell) run(sc sidecar, dir string) (pubResult, error) {
	r := pubResult{Mode: c.mode.name, N: c.n, Size: c.size, CPUPerM: math.NaN()}
	up, ep, err := startEndpoint(c.mode, sc, dir)
	if err != nil {
		return r, err
	}
	defer up.Shutdown()
	defer ep.close()

	recv := newConsumers(1)
	order := newOrderCheck(c.n)
	var recvEvents clientEvents
	rc, err := nats.Connect(up.ClientURL(), recvEvents.options()...)
	if err != nil {
		return r, err
	}
	defer rc.Close()
	sub, err := rc.Subscribe(pubSubject, func(m *nats.Msg) {
		recv[0].receive(m.Data)
		order.see(m.Data)
	})
	if err != nil {
		return r, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return r, err
	}
	if err := rc.Flush(); err != nil {
		return r, err
	}

	var pubEvents clientEvents
	pubs := make([]*nats.Conn, c.n)
	defer func() {
		for _, nc := range pubs {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	for i := range pubs {
		if pubs[i], err = ep.dial(pubEvents.options()...); err != nil {
			return r, fmt.Errorf("cannot connect publisher %d: %w", i+1, err)
		}
	}
	if err := warmUpPublishers(pubs, recv, c.size, &pubEvents); err != nil {
		return r, err
	}
	r.Upstream = up.NumClients() - 1 + up.NumLeafNodes() // all but the receiver

	cpu0, err := procCPU(ep.proc)
	if err != nil {
		return r, err
	}
	up0, err := statsOf(up)
	if err != nil {
		return r, err
	}
	start, flushed, published := publishAll(pubs, c.messages/c.n, c.size, &pubEvents)
	got, last := awaitDeliveries(recv, phaseThroughput, published)
	var late int64
	if got < published && !recvEvents.disconnected() {
		// Late or lost? Listen on for stragglers; the silence counts in
		// the rate, as it does for the publishers waiting on them.
		if more, at := awaitDeliveriesFor(recv, phaseThroughput, published, stragglerTimeout); more > got {
			late, got, last = more-got, more, at
		}
	}
	cpu1, err := procCPU(ep.proc)
	if err != nil {
		return r, err
	}
	up1, err := statsOf(up)
	if err != nil {
		return r, err
	}

	r.Published, r.Received, r.Lost, r.Reordered = published, got, published-got, order.reordered.Load()
	r.ReachedUpstream = up1.inMsgs - up0.inMsgs
	if d := last.Sub(start).Seconds(); got > 0 && d > 0 {
		r.Rate = float64(got) / d
	}
	if d := flushed.Sub(start).Seconds(); d > 0 {
		r.PubRate = float64(published) / d
	}
	if ep.proc != nil && got > 0 {
		r.CPUPerM = (cpu1 - cpu0).Seconds() / (float64(got) / 1e6)
	}
	var why []string
	if late > 0 {
		why = append(why, fmt.Sprintf("%d arrived late, after more than %v with none", late, stallTimeout))
	}
	if s := pubEvents.String(); s != "" {
		why = append(why, "publishers: "+s)
	}
	if s := recvEvents.String(); s != "" {
		why = append(why, "receiver: "+s)
	}
	if up1.slowConsumers > up0.slowConsumers {
		why = append(why, fmt.Sprintf("upstream slow consumers: %d", up1.slowConsumers-up0.slowConsumers))
	}
	if up1.leafIDs != up0.leafIDs {
		why = append(why, "the leaf node reconnected to the upstream")
	}
	if ep.proc != nil && ep.proc.varz != "" {
		n, err := leafSlowConsumers(ep.proc)
		if err != nil {
			return r, err
		}
		if n > 0 {
			why = append(why, fmt.Sprintf("leaf node slow consumers: %d", n))
		}
	}
	if ep.proc != nil && ep.proc.closeReasons() != "" {
		why = append(why, "natsfan closed connections: "+ep.proc.closeReasons())
	}
	r.Why = joinWhy(why)
	if ep.proc != nil {
		if err := ep.proc.exited(); err != nil {
			return r, err
		}
		if _, r.PeakRSS, err = memory(ep.proc.pid()); err != nil {
			return r, err
		}
	}
	return r, nil
}

// stragglerTimeout is how long a publish cell listens on, once nothing
// has arrived for stallTimeout, for messages that are late rather than
// lost: a leaf node may hold a million of them and go quiet for seconds.
const stragglerTimeout = 10 * time.Second

// warmUpPublishers has each publisher in turn publish probes until one of
// its own reaches the receiver, so that the path is in place (the
// receiver's interest propagated to a leaf node, say) before the clock
// starts. A probe that is late counts for a later publisher, which does no
// harm: the point is interest, not accounting.
func warmUpPublishers(pubs []*nats.Conn, recv consumers, size int, events *clientEvents) error {
	payload := make([]byte, max(size, pubHeader))
	deadline := time.Now().Add(20 * time.Second)
	for i, nc := range pubs {
		before := recv.received(phaseWarmup)
		arrived := func() bool { return recv.received(phaseWarmup) != before }
		for !arrived() {
			if err := events.err(); err != nil {
				return fmt.Errorf("publisher %d: %w", i+1, err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("publisher %d's messages did not reach the receiver within 20 s", i+1)
			}
			stamp(payload, phaseWarmup)
			if err := nc.Publish(pubSubject, payload); err != nil {
				return fmt.Errorf("publisher %d: %w", i+1, err)
			}
			if err := nc.Flush(); err != nil {
				return fmt.Errorf("publisher %d: %w", i+1, err)
			}
			waitUntil(arrived, 20*time.Millisecond)
		}
	}
	return nil
}

// publishAll has every publisher publish each messages as fast as it can,
// all starting together, then Flush. It returns when they started, when
// the last Flush returned, and how many messages were published in all:
// fewer than asked if a publisher failed, which events then says.
func publishAll(pubs []*nats.Conn, each, size int, events *clientEvents) (start, flushed time.Time, published int64) {
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		begin = make(chan struct{})
	)
	for i, nc := range pubs {
		wg.Go(func() {
			payload := make([]byte, max(size, pubHeader))
			<-begin
			for seq := range each {
				stamp(payload, phaseThroughput)
				stampOrder(payload, i, seq)
				if err := nc.Publish(pubSubject, payload); err != nil {
					events.failed(err)
					return
				}
				total.Add(1)
			}
			if err := nc.FlushTimeout(time.Minute); err != nil {
				events.failed(err)
			}
		})
	}
	start = time.Now()
	close(begin)
	wg.Wait()
	return start, time.Now(), total.Load()
}

// waitUntil polls cond until it holds or timeout has passed, and says
// whether it held.
func waitUntil(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// A publish section's payload carries, after the header every payload
// has, the publisher's index (2 bytes) and the message's sequence number
// from that publisher (8 bytes, both big-endian), so that the receiver can
// tell whether each publisher's messages arrive in its order.
const pubHeader = payloadHeader + 10

// stampOrder writes publisher i's sequence number seq into payload.
func stampOrder(payload []byte, i, seq int) {
	binary.BigEndian.PutUint16(payload[payloadHeader:], uint16(i))
	binary.BigEndian.PutUint64(payload[payloadHeader+2:], uint64(seq))
}

// orderCheck counts the throughput-phase messages that arrive after a
// later one of the same publisher, or twice. see must be called from one
// goroutine at a time (a nats.go subscription's callback is); reordered
// may be read from any.
type orderCheck struct {
	next      []uint64 // per publisher, the sequence number expected next
	reordered atomic.Int64
}

func newOrderCheck(publishers int) *orderCheck {
	return &orderCheck{next: make([]uint64, publishers)}
}

// see checks one received payload. A gap (a message lost) is not a
// reordering: what arrives is in order if no earlier one came after it.
func (o *orderCheck) see(data []byte) {
	if len(data) < pubHeader || phase(data[8]) != phaseThroughput {
		return
	}
	i := int(binary.BigEndian.Uint16(data[payloadHeader:]))
	seq := binary.BigEndian.Uint64(data[payloadHeader+2:])
	if i >= len(o.next) {
		return
	}
	if seq < o.next[i] {
		o.reordered.Add(1)
		return
	}
	o.next[i] = seq + 1
}
