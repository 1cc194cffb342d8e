package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// printTargets checks the delivery and idle results against the targets
// of issues 6 and 12 that they measure, and says, for each, met, MISSED,
// or not measured (the zero-loss section checks issue 12's others,
// printZeroLossTargets). The targets never tune the benchmark: they are
// read off its results.
func printTargets(w io.Writer, results []result, idle []idleResult) {
	fmt.Fprintln(w, "targets (issue 6):")
	for _, n := range []int{10, 50} {
		s, l, d := findResult(results, "natsfan-socket", n, 128), findResult(results, "leaf", n, 128), findResult(results, "direct", n, 128)
		if s == nil || l == nil || d == nil {
			fmt.Fprintf(w, "  n/a     N=%d, 128 B: not measured\n", n)
			continue
		}
		say(w, s.Rate >= 1.5*l.Rate, "N=%d 128 B: natsfan-socket throughput ≥ 1.5× leaf (%.2f×)", n, s.Rate/l.Rate)
		say(w, s.Rate >= 1.2*d.Rate, "N=%d 128 B: natsfan-socket throughput ≥ 1.2× direct (%.2f×)", n, s.Rate/d.Rate)
		say(w, s.Lost == 0 && s.PacedLost == 0, "N=%d 128 B: natsfan-socket lost nothing (%d + %d paced)", n, s.Lost, s.PacedLost)
		say(w, s.P99 <= l.P99, "N=%d 128 B: natsfan-socket paced p99 no worse than leaf (%s vs %s)", n, durString(s.P99), durString(l.P99))
	}
	for _, m := range []string{"natsfan-socket", "natsfan-inproc", "leaf"} {
		worst, cells := 0.0, 0
		for _, r := range results {
			if r.Mode == m {
				worst, cells = max(worst, r.Copies), cells+1
			}
		}
		if cells > 0 {
			// The server's OutBytes counts payload bytes: one copy is
			// exactly the payload size per message, and the warm-up
			// probes' stragglers are the only noise.
			say(w, worst <= 1.01, "%s: upstream egress one copy per message whatever N (worst %.2f copies)", m, worst)
		}
	}
	if one, many := findResult(results, "natsfan-inproc", 1, 128), findResult(results, "natsfan-inproc", 200, 128); one != nil && many != nil {
		say(w, many.Rate >= 0.9*200*one.Rate, "natsfan-inproc 128 B: N=200 rate ≥ 0.9 × 200 × N=1 rate (%.1f× the N=1 rate, target 180×)", many.Rate/one.Rate)
	} else {
		fmt.Fprintln(w, "  n/a     natsfan-inproc N=200 against N=1: not measured")
	}
	sayIdle(w, idle, 256<<20)

	fmt.Fprintln(w, "targets (issue 12; its paced p99 targets are issue 6's above):")
	var cells int
	var lost []string
	for _, s := range results {
		if s.Mode != "natsfan-socket" || !lostNothing(findResult(results, "direct", s.N, s.Size)) || !lostNothing(findResult(results, "leaf", s.N, s.Size)) {
			continue
		}
		cells++
		if !lostNothing(&s) {
			lost = append(lost, fmt.Sprintf("N=%d %s: %d + %d paced lost", s.N, sizeName(s.Size), s.Lost, s.PacedLost))
		}
	}
	if cells == 0 {
		fmt.Fprintln(w, "  n/a     natsfan-socket loses nothing where direct and leaf lose nothing: not measured")
	} else {
		say(w, len(lost) == 0, "natsfan-socket lost nothing in the %d cells where direct and leaf lost nothing%s", cells, strings.Join(append([]string{""}, lost...), "; "))
	}
	for _, c := range []struct {
		size int
		most float64
	}{{128, 0.06}, {4096, 1.0}} {
		if s := findResult(results, "natsfan-socket", 50, c.size); s != nil && !math.IsNaN(s.CPUPerM) {
			say(w, s.CPUPerM <= c.most, "N=50 %s: sidecar CPU ≤ %.2f s per million deliveries (%.2f s)", sizeName(c.size), c.most, s.CPUPerM)
		} else {
			fmt.Fprintf(w, "  n/a     N=50 %s: sidecar CPU per million deliveries: not measured\n", sizeName(c.size))
		}
	}
	sayIdle(w, idle, 128<<20)
}

// findResult returns the result of a mode's cell; nil if it was not run.
func findResult(results []result, mode string, n, size int) *result {
	for i := range results {
		if r := &results[i]; r.Mode == mode && r.N == n && r.Size == size {
			return r
		}
	}
	return nil
}

// lostNothing reports whether a cell was run and lost nothing in either
// phase.
func lostNothing(r *result) bool { return r != nil && r.Lost == 0 && r.PacedLost == 0 }

// say prints a target's verdict and what it was measured at.
func say(w io.Writer, ok bool, format string, args ...any) {
	verdict := "MISSED"
	if ok {
		verdict = "met   "
	}
	fmt.Fprintf(w, "  %s  %s\n", verdict, fmt.Sprintf(format, args...))
}

// sayIdle prints the verdict on 10,000 idle socket consumers holding at
// most most bytes of the sidecar's RSS.
func sayIdle(w io.Writer, idle []idleResult, most int64) {
	for _, r := range idle {
		if r.Consumers == 10_000 {
			say(w, r.RSS <= most, "10,000 idle socket consumers: sidecar RSS ≤ %d MiB (%s, peak %s)", most>>20, mibString(r.RSS), mibString(r.PeakRSS))
			return
		}
	}
	fmt.Fprintf(w, "  n/a     10,000 idle socket consumers ≤ %d MiB: not measured\n", most>>20)
}
