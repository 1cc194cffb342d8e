package main

import (
	"fmt"
	"io"
)

// printTargets checks the results against the targets of issue 6 and says,
// for each, met, MISSED, or not measured. The targets never tune the
// benchmark: they are read off its results.
func printTargets(w io.Writer, results []result, idle []idleResult) {
	find := func(mode string, n, size int) *result {
		for i := range results {
			if r := &results[i]; r.Mode == mode && r.N == n && r.Size == size {
				return r
			}
		}
		return nil
	}
	say := func(ok bool, format string, args ...any) {
		verdict := "MISSED"
		if ok {
			verdict = "met   "
		}
		fmt.Fprintf(w, "  %s  %s\n", verdict, fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w, "targets:")
	for _, n := range []int{10, 50} {
		s, l, d := find("natsfan-socket", n, 128), find("leaf", n, 128), find("direct", n, 128)
		if s == nil || l == nil || d == nil {
			fmt.Fprintf(w, "  n/a     N=%d, 128 B: not measured\n", n)
			continue
		}
		say(s.Rate >= 1.5*l.Rate, "N=%d 128 B: natsfan-socket throughput ≥ 1.5× leaf (%.2f×)", n, s.Rate/l.Rate)
		say(s.Rate >= 1.2*d.Rate, "N=%d 128 B: natsfan-socket throughput ≥ 1.2× direct (%.2f×)", n, s.Rate/d.Rate)
		say(s.Lost == 0 && s.PacedLost == 0, "N=%d 128 B: natsfan-socket lost nothing (%d + %d paced)", n, s.Lost, s.PacedLost)
		say(s.P99 <= l.P99, "N=%d 128 B: natsfan-socket paced p99 no worse than leaf (%s vs %s)", n, durString(s.P99), durString(l.P99))
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
			say(worst <= 1.01, "%s: upstream egress one copy per message whatever N (worst %.2f copies)", m, worst)
		}
	}
	if one, many := find("natsfan-inproc", 1, 128), find("natsfan-inproc", 200, 128); one != nil && many != nil {
		say(many.Rate >= 0.9*200*one.Rate, "natsfan-inproc 128 B: N=200 rate ≥ 0.9 × 200 × N=1 rate (%.1f× the N=1 rate, target 180×)", many.Rate/one.Rate)
	} else {
		fmt.Fprintln(w, "  n/a     natsfan-inproc N=200 against N=1: not measured")
	}
	measured := false
	for _, r := range idle {
		if r.Consumers == 10_000 {
			measured = true
			say(r.RSS <= 256<<20, "10,000 idle socket consumers: sidecar RSS ≤ 256 MiB (%s, peak %s)", mibString(r.RSS), mibString(r.PeakRSS))
		}
	}
	if !measured {
		fmt.Fprintln(w, "  n/a     10,000 idle socket consumers: not measured")
	}
}
