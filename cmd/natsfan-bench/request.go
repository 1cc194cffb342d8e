package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
)

// reqSubject is what the request section's responder serves. Like
// pubSubject it is outside benchSubjects: natsfan passes the requests
// upstream and subscribes the requester's inbox upstream on interest.
const reqSubject = "req.x"

// Request styles: how nats.go makes a request's reply subject.
const (
	// styleNew is nats.go's default: one wildcard inbox subscription per
	// connection, made at the first request, each request a subject of it.
	styleNew = "new"
	// styleOld is nats.UseOldRequestStyle: a subscription to a fresh inbox
	// for every request, unsubscribed when the reply is in. Through natsfan
	// or a leaf node it costs an interest change upstream per request.
	styleOld = "old"
)

// reqTimeout is how long one request waits for its reply; reqGiveUp is how
// many failed requests in a row end a cell early, so that a broken path
// costs seconds, not requests × reqTimeout.
const (
	reqTimeout = 2 * time.Second
	reqGiveUp  = 3
)

// runRequests runs the request section: every cell of request style and
// mode, c.runs times, and returns the medians. The modes take turns within
// each run, as in runPublish.
func runRequests(c *config, sc sidecar, dir string, stdout io.Writer) ([]reqResult, error) {
	if c.requests == 0 {
		return nil, nil
	}
	ms := c.clientModes()
	var results []reqResult
	for _, style := range c.reqStyles {
		runs := make([][]reqResult, len(ms))
		for range c.runs {
			for j, m := range ms {
				cl := reqCell{mode: m, style: style, size: c.reqSize, requests: c.requests}
				began := time.Now()
				r, err := cl.run(sc, dir)
				if err != nil {
					return nil, fmt.Errorf("request, %s, %s inbox: %w", m.name, style, err)
				}
				fmt.Fprintf(stdout, "  request %-15s %s inbox %-6s %6d answered, %d failed: p50 %s, p99 %s%s (%.1f s)\n",
					m.name, style, sizeName(c.reqSize), r.Answered, r.Failed, durString(r.P50), durString(r.P99), whyColumn(r.Why), time.Since(began).Seconds())
				runs[j] = append(runs[j], r)
			}
		}
		for _, rs := range runs {
			results = append(results, reqMedianOf(rs))
		}
	}
	return results, nil
}

// reqCell is one measurement of the request section: one responder, a
// nats.go connection to the upstream directly, echoes every request's
// payload; one requester, a nats.go connection to mode's endpoint, makes
// requests round trips of size bytes one after another with nc.Request.
type reqCell struct {
	mode     mode
	style    string // styleNew or styleOld
	size     int    // payload bytes, of the request and of the reply
	requests int
}

// reqResult is what one request cell measured. Latencies are of the
// requests answered.
type reqResult struct {
	Mode     string
	Style    string
	Size     int
	Requests int // asked for

	Answered       int
	Failed         int     // requests that got an error (a timeout, no responders) instead of a reply
	Rate           float64 // round trips per second: Answered ÷ the time they all took
	P50, P99, P999 time.Duration
	P99Range       [2]time.Duration // the lowest and highest P99 of the runs reqMedianOf combined

	CPUPerReq time.Duration // CPU time of the leaf node or sidecar per round trip; 0: n/a
	PeakRSS   int64         // VmHWM of the leaf node or sidecar, bytes; 0: n/a
	Why       string        // the first error, and whether the cell gave up early
}

// run measures the cell on a fresh upstream, endpoint, responder and
// requester, which it stops before it returns.
func (c reqCell) run(sc sidecar, dir string) (reqResult, error) {
	r := reqResult{Mode: c.mode.name, Style: c.style, Size: c.size, Requests: c.requests}
	up, ep, err := startEndpoint(c.mode, sc, dir)
	if err != nil {
		return r, err
	}
	defer up.Shutdown()
	defer ep.close()

	resp, err := nats.Connect(up.ClientURL())
	if err != nil {
		return r, err
	}
	defer resp.Close()
	if _, err := resp.Subscribe(reqSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return r, err
	}
	if err := resp.Flush(); err != nil {
		return r, err
	}

	var events clientEvents
	opts := events.options()
	if c.style == styleOld {
		opts = append(opts, nats.UseOldRequestStyle())
	}
	nc, err := ep.dial(opts...)
	if err != nil {
		return r, fmt.Errorf("cannot connect the requester: %w", err)
	}
	defer nc.Close()
	payload := make([]byte, max(c.size, 1))
	if err := warmUpRequests(nc, payload, min(100, c.requests), &events); err != nil {
		return r, err
	}

	cpu0, err := procCPU(ep.proc)
	if err != nil {
		return r, err
	}
	var (
		h        histogram
		inARow   int
		firstErr error
	)
	start := time.Now()
	for range c.requests {
		t0 := time.Now()
		_, err := nc.Request(reqSubject, payload, reqTimeout)
		if err != nil {
			r.Failed++
			inARow++
			if firstErr == nil {
				firstErr = err
			}
			if inARow == reqGiveUp {
				break
			}
			continue
		}
		h.record(int64(time.Since(t0)))
		r.Answered++
		inARow = 0
	}
	took := time.Since(start)
	cpu1, err := procCPU(ep.proc)
	if err != nil {
		return r, err
	}

	var sum [histBuckets]uint64
	h.addTo(&sum)
	p := percentiles(&sum, 0.5, 0.99, 0.999)
	r.P50, r.P99, r.P999 = p[0], p[1], p[2]
	if r.Answered > 0 {
		r.Rate = float64(r.Answered) / took.Seconds()
		if ep.proc != nil {
			r.CPUPerReq = (cpu1 - cpu0) / time.Duration(r.Answered)
		}
	}
	var why []string
	if firstErr != nil {
		why = append(why, fmt.Sprintf("first error: %v", firstErr))
	}
	if inARow == reqGiveUp {
		why = append(why, fmt.Sprintf("gave up after %d failures in a row", reqGiveUp))
	}
	if s := events.String(); s != "" {
		why = append(why, "requester: "+s)
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

// warmUpRequests makes requests until n have been answered, so that the
// path is in place (the responder's interest propagated to a leaf node,
// the requester's inbox subscribed) before the clock starts. A request
// that meets no responders is retried after a moment: interest may still
// be on its way. An asynchronous error from the server (a permissions
// violation, say) ends it at once.
func warmUpRequests(nc *nats.Conn, payload []byte, n int, events *clientEvents) error {
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for answered := 0; answered < n; {
		if err := events.err(); err != nil {
			return fmt.Errorf("requester: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("requests not answered within 20 s (last error: %v)", last)
		}
		_, err := nc.Request(reqSubject, payload, reqTimeout)
		switch {
		case err == nil:
			answered++
		case errors.Is(err, nats.ErrNoResponders):
			last = err
			time.Sleep(20 * time.Millisecond) // a retry interval, not synchronisation
		default:
			last = err
		}
	}
	return nil
}
