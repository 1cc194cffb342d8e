package main

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
)

// The own-subjects section measures what the sidecar spends on consumers
// that each want part of a stream: N socket consumers, each subscribed to
// a subject of its own under the buffered bench.>, and one publisher
// upstream sending to them in turn at a steady rate. The delivery section's
// consumers all take every message; these take one in N, so what a
// message costs the sidecar should not grow with N.

// ownResult is one step of the own-subjects section.
type ownResult struct {
	Consumers int
	Rate      float64       // offered, messages/s over all consumers
	Sent      int           // messages published
	Delivered int64         // messages the consumers received
	CPU       time.Duration // the sidecar's, from the first publish until every message arrived
	Elapsed   time.Duration // that window
}

// cores returns the sidecar's CPU over the window, in cores.
func (r ownResult) cores() float64 { return r.CPU.Seconds() / r.Elapsed.Seconds() }

// perMessage returns the sidecar's CPU per message published.
func (r ownResult) perMessage() time.Duration {
	if r.Sent == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Sent)
}

// ownSubject is the subject consumer i subscribes to.
func ownSubject(i int) string { return "bench.own." + strconv.Itoa(i) }

// measureOwn runs a step for each number of consumers in ns, each on a
// fresh upstream and sidecar: rate messages/s for the duration given.
func measureOwn(natsfan sidecar, dir string, ns []int, rate float64, d time.Duration) ([]ownResult, error) {
	var results []ownResult
	for _, n := range ns {
		r, err := measureOwnStep(natsfan, dir, n, rate, d)
		if err != nil {
			return results, fmt.Errorf("%d consumers: %w", n, err)
		}
		results = append(results, r)
	}
	return results, nil
}

func measureOwnStep(natsfan sidecar, dir string, n int, rate float64, d time.Duration) (ownResult, error) {
	r := ownResult{Consumers: n, Rate: rate}
	up, _, err := startUpstream()
	if err != nil {
		return r, err
	}
	defer up.Shutdown()
	sc, sock, err := startSidecar(natsfan, up.ClientURL(), dir, false)
	if err != nil {
		return r, err
	}
	defer sc.stop()
	var delivered atomic.Int64
	consumers, err := connectMany(n, func(i int) (*nats.Conn, error) {
		nc, err := dialSocket(sock)
		if err != nil {
			return nil, err
		}
		if _, err := nc.Subscribe(ownSubject(i), func(*nats.Msg) { delivered.Add(1) }); err != nil {
			return nc, err
		}
		return nc, nc.Flush()
	})
	defer func() {
		for _, nc := range consumers {
			nc.Close()
		}
	}()
	if err != nil {
		return r, err
	}
	pub, err := nats.Connect(up.ClientURL())
	if err != nil {
		return r, err
	}
	defer pub.Close()

	payload := make([]byte, 128)
	total := max(n, int(rate*d.Seconds()))
	cpu0, err := procCPU(sc)
	if err != nil {
		return r, err
	}
	start := time.Now()
	for i := range total {
		if due := start.Add(time.Duration(float64(i) / rate * float64(time.Second))); time.Until(due) > time.Millisecond {
			time.Sleep(time.Until(due)) // pacing the publisher
		}
		if err := pub.Publish(ownSubject(i%n), payload); err != nil {
			return r, err
		}
	}
	r.Sent = total
	if err := pub.Flush(); err != nil {
		return r, err
	}
	for deadline := time.Now().Add(30 * time.Second); delivered.Load() < int64(total) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // waiting for the last deliveries, with a deadline
	}
	r.Elapsed = time.Since(start)
	cpu1, err := procCPU(sc)
	if err != nil {
		return r, err
	}
	r.CPU, r.Delivered = cpu1-cpu0, delivered.Load()
	if err := sc.exited(); err != nil {
		return r, err
	}
	return r, nil
}

// printOwn writes the own-subjects table.
func printOwn(w io.Writer, own []ownResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "consumers\toffered msgs/s\tsent\tdelivered\tsidecar cores\tsidecar CPU per message\t")
	for _, r := range own {
		fmt.Fprintf(tw, "%d\t%.0f\t%d\t%d\t%.2f\t%s\t\n", r.Consumers, r.Rate, r.Sent, r.Delivered, r.cores(), durString(r.perMessage()))
	}
	return tw.Flush()
}

// writeOwnCSV writes the own-subjects results to path.
func writeOwnCSV(path string, own []ownResult) error {
	rows := [][]string{{"consumers", "offered_rate", "sent", "delivered", "sidecar_cpu_ns", "elapsed_ns"}}
	for _, r := range own {
		rows = append(rows, []string{itoa(r.Consumers), ftoa(r.Rate), itoa(r.Sent), i64(r.Delivered), i64(int64(r.CPU)), i64(int64(r.Elapsed))})
	}
	return writeRows(path, rows)
}
