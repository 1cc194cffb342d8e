package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// cell is one measurement: a mode, a number of consumers and a message size.
type cell struct {
	mode          mode
	n             int     // consumers
	size          int     // payload bytes
	messages      int     // published in the throughput phase
	pacedMessages int     // published in the paced phase
	rate          float64 // offered rate of the paced phase, msgs/s
}

// result is what one cell measured. Durations of zero and NaN numbers are
// not measured (n/a).
type result struct {
	Mode     string
	N        int
	Size     int
	Messages int // published, throughput phase

	Delivered int64   // deliveries, throughput phase
	Lost      int64   // Messages×N − Delivered
	Rate      float64 // deliveries/s, throughput phase
	BurstP99  time.Duration

	PacedRate      float64
	PacedMessages  int
	PacedLost      int64
	P50, P99, P999 time.Duration

	CutOff int    // consumers whose connection or subscription ended, by the end of the cell
	Why    string // why, when the sidecar's log says: "slow_consumer×1"

	EgressPerMsg float64 // upstream OutBytes (payload bytes sent) per published message, throughput phase
	Copies       float64 // EgressPerMsg ÷ the payload size
	CPUPerM      float64 // CPU seconds of the leaf node or sidecar per million deliveries
	PeakRSS      int64   // VmHWM of the leaf node or sidecar, bytes; 0: n/a

	Profile string // where the sidecar's CPU profile was written; "": not profiled
}

// stallTimeout is how long deliveries may make no progress before what has
// not arrived counts as lost.
const stallTimeout = 2 * time.Second

// profiling asks for a CPU profile of the sidecar's throughput phase: a
// window of seconds, written to path.
type profiling struct {
	path    string
	seconds time.Duration
}

// run measures the cell on a fresh upstream, leaf node or sidecar and
// consumers, which it stops before it returns. With prof, it also profiles
// the sidecar, if the mode runs one.
func (c cell) run(sc sidecar, dir string, prof *profiling) (result, error) {
	r := result{Mode: c.mode.name, N: c.n, Size: c.size, Messages: c.messages,
		PacedRate: c.rate, PacedMessages: c.pacedMessages, CPUPerM: math.NaN()}
	rg, err := startRig(c.mode, c.n, c.size, sc, dir, prof != nil)
	if err != nil {
		return r, err
	}
	defer rg.close()
	up, t, cs, pub := rg.up, rg.t, rg.cs, rg.pub

	// Paced phase first, so that what the saturating phase does to the
	// consumers (a slow consumer cut off) cannot spoil the latencies.
	if err := pub.paced(c.pacedMessages, c.rate, phasePaced); err != nil {
		return r, err
	}
	want := int64(c.pacedMessages) * int64(c.n)
	got, _ := awaitDeliveries(cs, phasePaced, want)
	r.PacedLost = want - got
	lat := cs.latencies(phasePaced)
	r.P50, r.P99, r.P999 = lat[0], lat[1], lat[2]

	// Throughput phase.
	cpu0, out0, err := snapshot(t.proc, up)
	if err != nil {
		return r, err
	}
	var profile *cpuProfile
	if prof != nil && t.proc != nil && t.proc.pprof() != "" {
		profile = startCPUProfile(t.proc.pprof(), prof.seconds, prof.path)
	}
	start := time.Now()
	if err := pub.burst(c.messages, phaseThroughput); err != nil {
		return r, err
	}
	want = int64(c.messages) * int64(c.n)
	got, last := awaitDeliveries(cs, phaseThroughput, want)
	cpu1, out1, err := snapshot(t.proc, up)
	if err != nil {
		return r, err
	}
	if profile != nil {
		if r.Profile, err = profile.wait(); err != nil {
			return r, err
		}
	}
	r.Delivered, r.Lost = got, want-got
	if d := last.Sub(start).Seconds(); got > 0 && d > 0 {
		r.Rate = float64(got) / d
	}
	r.BurstP99 = cs.latencies(phaseThroughput)[1]
	r.EgressPerMsg = float64(out1-out0) / float64(c.messages)
	r.Copies = r.EgressPerMsg / float64(c.size)
	if t.proc != nil && got > 0 {
		r.CPUPerM = (cpu1 - cpu0).Seconds() / (float64(got) / 1e6)
	}

	r.CutOff = t.cutOff()
	if t.proc != nil {
		r.Why = t.proc.closeReasons()
		if err := t.proc.exited(); err != nil {
			return r, err
		}
		if _, r.PeakRSS, err = memory(t.proc.pid()); err != nil {
			return r, err
		}
	}
	return r, nil
}

// rig is what a cell measures: a fresh upstream, a mode started in front
// of it with n consumers attached, and the publisher, warmed up. Stop it
// with close.
type rig struct {
	up  *server.Server
	t   *target
	cs  consumers
	pub *publisher
}

// startRig starts a rig for mode with n consumers of size-byte payloads;
// pprof has the sidecar serve pprof.
func startRig(m mode, n, size int, sc sidecar, dir string, pprof bool) (_ *rig, err error) {
	up, leafURL, err := startUpstream()
	if err != nil {
		return nil, err
	}
	rg := &rig{up: up}
	defer func() {
		if err != nil {
			rg.close()
		}
	}()
	if rg.t, err = m.start(&env{upstream: up, leafURL: leafURL, natsfan: sc, dir: dir, pprof: pprof}); err != nil {
		return nil, err
	}
	rg.cs = newConsumers(n)
	for i, cons := range rg.cs {
		if err := rg.t.attach(cons); err != nil {
			return nil, fmt.Errorf("cannot attach consumer %d: %w", i+1, err)
		}
	}
	if rg.pub, err = newPublisher(up.ClientURL(), size); err != nil {
		return nil, err
	}
	if err := warmUp(rg.pub, rg.cs); err != nil {
		return nil, err
	}
	return rg, nil
}

// close stops the publisher, the mode and the upstream, in that order.
func (rg *rig) close() {
	if rg.pub != nil {
		rg.pub.close()
	}
	if rg.t != nil {
		rg.t.close()
	}
	rg.up.Shutdown()
}

// warmUp publishes probes until every consumer has received one, so that
// every subscription is in place, leaf node interest included.
func warmUp(pub *publisher, cs consumers) error {
	deadline := time.Now().Add(20 * time.Second)
	for !cs.allReceived(phaseWarmup) {
		if time.Now().After(deadline) {
			return errors.New("consumers did not receive the warm-up messages within 20 s")
		}
		if err := pub.publish(phaseWarmup); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// awaitDeliveries waits until consumers have want deliveries of phase p or
// none arrives for stallTimeout, and returns the deliveries and when the
// last of them was seen.
func awaitDeliveries(cs consumers, p phase, want int64) (int64, time.Time) {
	return awaitDeliveriesFor(cs, p, want, stallTimeout)
}

// awaitDeliveriesFor is awaitDeliveries with a stall timeout of stall.
func awaitDeliveriesFor(cs consumers, p phase, want int64, stall time.Duration) (int64, time.Time) {
	got, last := cs.received(p), time.Now()
	for got < want {
		time.Sleep(time.Millisecond)
		now := cs.received(p)
		if now != got {
			got, last = now, time.Now()
		} else if time.Since(last) > stall {
			break
		}
	}
	return got, last
}

// snapshot returns the CPU time proc has used (zero when proc is nil) and
// the bytes the upstream has sent.
func snapshot(proc *child, up *server.Server) (time.Duration, int64, error) {
	var cpu time.Duration
	if proc != nil {
		var err error
		if cpu, err = cpuTime(proc.pid()); err != nil {
			return 0, 0, err
		}
	}
	out, err := outBytes(up)
	return cpu, out, err
}
