package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// The zero-loss section finds, for each cell (mode, N, size), the highest
// publish rate the mode sustains with nothing lost. A burst says how fast
// consumers drain a backlog, and a cell that loses part of it still shows a
// rate; this figure cannot hide a loss, because a rate that loses anything
// is not a candidate.
//
// One step offers a rate: on a fresh rig (upstream, mode, N consumers,
// publisher, warmed up), the publisher publishes at that rate for
// --zl-step, then the step waits until every consumer has every message or
// none arrives for zlQuiet. The step passes when nothing is lost and the
// rate was carried: the deliveries, counted from the first publish to the
// last delivery, came at no less than zlKeepUp of the rate offered. A mode
// that holds the publisher back (nats-server stalls a producer whose
// consumers are behind) or delivers a growing backlog late has not carried
// the rate, though it has lost nothing. Each step starts afresh, so that
// a consumer cut off at one rate cannot spoil the next, and so that the
// leaf node's or sidecar's peak RSS is the peak at that rate.
//
// The search starts at --zl-start deliveries/s (÷ N messages/s), doubles
// the rate until a step fails (or halves it until one passes, at most
// zlHalvings times), then bisects --zl-bisect times, geometrically,
// between the highest rate that passed and the lowest that failed. The
// figure is what the highest passing step measured: messages/s and
// deliveries/s at the consumers, the leaf node's or sidecar's CPU seconds
// per million deliveries and its peak RSS. The lowest failing step says
// what went wrong above it.

const (
	// zlKeepUp is the share of the offered delivery rate a step must
	// deliver, counted from the first publish to the last delivery.
	zlKeepUp = 0.9
	// zlQuiet is how long a step waits with no delivery before what has
	// not arrived counts as lost. A message later than this would fail the
	// step anyway: it would take the delivery rate under zlKeepUp.
	zlQuiet = time.Second
	// zlDoublings and zlHalvings bound the search away from the start.
	zlDoublings = 12
	zlHalvings  = 5
)

// zlPlan is how the zero-loss section searches each cell.
type zlPlan struct {
	start     float64       // deliveries/s of the first step
	step      time.Duration // how long each step publishes
	doublings int           // at most, from the start
	bisect    int           // bisections once a step has passed and one failed
}

// zlCell is one search: a mode, N consumers, a payload size.
type zlCell struct {
	mode mode
	n    int
	size int
}

// zlStep is what one offered rate measured.
type zlStep struct {
	Offered   float64 // msgs/s
	Published int
	Delivered int64
	Lost      int64   // Published×N − Delivered
	Rate      float64 // deliveries/s, from the first publish to the last delivery
	PubRate   float64 // msgs/s, until the publisher's Flush returned
	CPUPerM   float64 // CPU s per million deliveries of the leaf node or sidecar; NaN: n/a
	PeakRSS   int64   // VmHWM of the leaf node or sidecar; 0: n/a
	Why       string  // why the step failed; "" if it passed
}

func (s zlStep) passed() bool { return s.Why == "" }

// zlResult is a cell's search, or the median of several.
type zlResult struct {
	Mode string
	N    int
	Size int

	Rate      float64    // deliveries/s at the highest passing step; 0: none passed
	RateRange [2]float64 // the lowest and highest Rate of the runs zlMedianOf combined
	MsgRate   float64    // Rate ÷ N
	Offered   float64    // msgs/s offered at the highest passing step
	CPUPerM   float64
	PeakRSS   int64
	FailedAt  float64 // msgs/s offered at the lowest failing step; 0: none failed
	Why       string  // what went wrong there
	Steps     int
	Took      time.Duration
}

// step offers rate msgs/s for d on a fresh rig and measures it.
func (c zlCell) step(sc sidecar, dir string, rate float64, d time.Duration) (zlStep, error) {
	s := zlStep{Offered: rate, CPUPerM: math.NaN()}
	rg, err := startRig(c.mode, c.n, c.size, sc, dir, false)
	if err != nil {
		return s, err
	}
	defer rg.close()
	up0, err := statsOf(rg.up)
	if err != nil {
		return s, err
	}
	cpu0, err := procCPU(rg.t.proc)
	if err != nil {
		return s, err
	}
	s.Published = max(1, int(rate*d.Seconds()))
	start := time.Now()
	if err := rg.pub.paced(s.Published, rate, phaseThroughput); err != nil {
		return s, err
	}
	flushed := time.Now()
	want := int64(s.Published) * int64(c.n)
	got, last := awaitDeliveriesFor(rg.cs, phaseThroughput, want, zlQuiet)
	cpu1, err := procCPU(rg.t.proc)
	if err != nil {
		return s, err
	}
	up1, err := statsOf(rg.up)
	if err != nil {
		return s, err
	}
	s.Delivered, s.Lost = got, want-got
	if el := last.Sub(start).Seconds(); got > 0 && el > 0 {
		s.Rate = float64(got) / el
	}
	s.PubRate = float64(s.Published) / flushed.Sub(start).Seconds()
	if rg.t.proc != nil && got > 0 {
		s.CPUPerM = (cpu1 - cpu0).Seconds() / (float64(got) / 1e6)
	}

	var why []string
	if s.Lost != 0 {
		why = append(why, fmt.Sprintf("%d of %d lost", s.Lost, want))
	} else if offered := rate * float64(c.n); s.Rate < zlKeepUp*offered {
		if s.PubRate < zlKeepUp*rate {
			why = append(why, fmt.Sprintf("publisher held back to %s msgs/s", rateString(s.PubRate)))
		} else {
			why = append(why, fmt.Sprintf("delivered late: the last %v after publishing ended", last.Sub(flushed).Round(time.Millisecond)))
		}
		why = append(why, fmt.Sprintf("%s of %s deliveries/s", rateString(s.Rate), rateString(offered)))
	}
	if len(why) > 0 {
		// Who cut whom, if anyone did.
		if n := rg.t.cutOff(); n > 0 {
			why = append(why, fmt.Sprintf("%d consumer%s closed", n, plural(n)))
		}
		if n := up1.slowConsumers - up0.slowConsumers; n > 0 {
			why = append(why, fmt.Sprintf("upstream slow consumers: %d", n))
		}
		if up1.leafIDs != up0.leafIDs {
			why = append(why, "the leaf node reconnected to the upstream")
		}
		if p := rg.t.proc; p != nil && p.varz != "" {
			n, err := leafSlowConsumers(p)
			if err != nil {
				return s, err
			}
			if n > 0 {
				why = append(why, fmt.Sprintf("leaf node slow consumers: %d", n))
			}
		}
		if p := rg.t.proc; p != nil && p.closeReasons() != "" {
			why = append(why, "natsfan closed connections: "+p.closeReasons())
		}
	}
	s.Why = joinWhy(why)
	if p := rg.t.proc; p != nil {
		if err := p.exited(); err != nil {
			return s, err
		}
		if _, s.PeakRSS, err = memory(p.pid()); err != nil {
			return s, err
		}
	}
	return s, nil
}

// search runs the search plan p and reports each step to log.
func (c zlCell) search(sc sidecar, dir string, p zlPlan, log func(zlStep)) (zlResult, error) {
	r := zlResult{Mode: c.mode.name, N: c.n, Size: c.size, CPUPerM: math.NaN()}
	began := time.Now()
	var best, fail *zlStep
	try := func(rate float64) (bool, error) {
		s, err := c.step(sc, dir, rate, p.step)
		if err != nil {
			return false, err
		}
		r.Steps++
		log(s)
		if s.passed() {
			if best == nil || s.Offered > best.Offered {
				best = &s
			}
			return true, nil
		}
		if fail == nil || s.Offered < fail.Offered {
			fail = &s
		}
		return false, nil
	}

	rate := p.start / float64(c.n)
	ok, err := try(rate)
	if err != nil {
		return r, err
	}
	for i := 0; i < p.doublings && ok; i++ {
		rate *= 2
		if ok, err = try(rate); err != nil {
			return r, err
		}
	}
	for i := 0; i < zlHalvings && best == nil; i++ {
		rate /= 2
		if _, err = try(rate); err != nil {
			return r, err
		}
	}
	for i := 0; i < p.bisect && best != nil && fail != nil; i++ {
		if _, err := try(math.Sqrt(best.Offered * fail.Offered)); err != nil {
			return r, err
		}
	}

	if best != nil {
		r.Rate, r.MsgRate, r.Offered = best.Rate, best.Rate/float64(c.n), best.Offered
		r.CPUPerM, r.PeakRSS = best.CPUPerM, best.PeakRSS
	}
	r.RateRange = [2]float64{r.Rate, r.Rate}
	if fail != nil {
		r.FailedAt, r.Why = fail.Offered, fail.Why
	}
	r.Took = time.Since(began)
	return r, nil
}

// runZeroLoss runs the zero-loss section: a search for every cell of size,
// N and mode, c.runs times, and returns the medians. The modes take turns
// within each run, as in the publish section.
func runZeroLoss(c *config, sc sidecar, dir string, stdout io.Writer) ([]zlResult, error) {
	var results []zlResult
	for _, size := range c.zlSizes {
		for _, n := range c.zlNs {
			runs := make([][]zlResult, len(c.modes))
			for i := range c.runs {
				for j, m := range c.modes {
					cl := zlCell{mode: m, n: n, size: size}
					r, err := cl.search(sc, dir, c.zl, func(s zlStep) {
						verdict := "passed"
						if !s.passed() {
							verdict = s.Why
						}
						fmt.Fprintf(stdout, "    zero-loss %-15s N=%-3d %-6s offered %8s msgs/s: %8s deliveries/s, CPU s/M %s, peak RSS %s; %s\n",
							m.name, n, sizeName(size), rateString(s.Offered), rateString(s.Rate), cpuString(s.CPUPerM), mibString(s.PeakRSS), verdict)
					})
					if err != nil {
						return nil, fmt.Errorf("zero-loss, %s, N=%d, %s: %w", m.name, n, sizeName(size), err)
					}
					fmt.Fprintf(stdout, "  zero-loss %-15s N=%-3d %-6s run %d: %s deliveries/s (%s msgs/s) with nothing lost; %d steps (%.0f s)\n",
						m.name, n, sizeName(size), i+1, rateString(r.Rate), rateString(r.MsgRate), r.Steps, r.Took.Seconds())
					runs[j] = append(runs[j], r)
				}
			}
			for _, rs := range runs {
				results = append(results, zlMedianOf(rs))
			}
		}
	}
	return results, nil
}

// zlMedianOf combines repeated searches of one cell: the median of the
// rate, with the lowest and highest, and of the CPU and memory at it; the
// lowest failing rate of any run, with what went wrong there.
func zlMedianOf(runs []zlResult) zlResult {
	r := runs[0]
	r.Rate = median(runs, func(r zlResult) float64 { return r.Rate })
	r.MsgRate = r.Rate / float64(r.N)
	r.Offered = median(runs, func(r zlResult) float64 { return r.Offered })
	r.RateRange = [2]float64{r.Rate, r.Rate}
	for _, x := range runs {
		r.RateRange = [2]float64{min(r.RateRange[0], x.Rate), max(r.RateRange[1], x.Rate)}
		if x.FailedAt > 0 && (r.FailedAt == 0 || x.FailedAt < r.FailedAt) {
			r.FailedAt, r.Why = x.FailedAt, x.Why
		}
	}
	r.CPUPerM = median(runs, func(r zlResult) float64 { return r.CPUPerM })
	r.PeakRSS = int64(median(runs, func(r zlResult) float64 { return float64(r.PeakRSS) }))
	r.Steps = 0
	r.Took = 0
	for _, x := range runs {
		r.Steps += x.Steps
		r.Took += x.Took
	}
	return r
}

// printZeroLossTable writes the zero-loss section's results: the highest
// rate with nothing lost (messages/s and deliveries/s, with the runs'
// range), the leaf node's or sidecar's CPU per million deliveries and peak
// RSS at it, and the lowest offered rate that failed, with why.
func printZeroLossTable(w io.Writer, results []zlResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tN\tsize\tmsgs/s\tdeliveries/s\truns' range\tCPU s/M\tpeak RSS\tsteps\tfailed at msgs/s\t  why")
	for _, r := range results {
		failed := "-"
		if r.FailedAt > 0 {
			failed = rateString(r.FailedAt)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s – %s\t%s\t%s\t%d\t%s\t%s\n",
			r.Mode, r.N, sizeName(r.Size), rateString(r.MsgRate), rateString(r.Rate), rateString(r.RateRange[0]), rateString(r.RateRange[1]),
			cpuString(r.CPUPerM), mibString(r.PeakRSS), r.Steps, failed, whyColumn(r.Why))
	}
	return tw.Flush()
}

// writeZeroLossCSV writes the zero-loss section's results to path, with
// raw numbers: bytes, empty for n/a.
func writeZeroLossCSV(path string, results []zlResult) error {
	rows := [][]string{{"mode", "n", "size_bytes", "msgs_per_s", "deliveries_per_s", "deliveries_per_s_lowest", "deliveries_per_s_highest",
		"offered_msgs_per_s", "cpu_s_per_million", "peak_rss_bytes", "steps", "failed_at_msgs_per_s", "why"}}
	for _, r := range results {
		rows = append(rows, []string{r.Mode, itoa(r.N), itoa(r.Size), ftoa(r.MsgRate), ftoa(r.Rate), ftoa(r.RateRange[0]), ftoa(r.RateRange[1]),
			ftoa(r.Offered), ftoa(r.CPUPerM), optI64(r.PeakRSS), itoa(r.Steps), ftoa(r.FailedAt), r.Why})
	}
	return writeRows(path, rows)
}

// printZeroLossTargets checks the zero-loss results against issue 12's
// targets and says, for each, met, MISSED, or not measured. They are read
// off the results; nothing in the search knows them.
func printZeroLossTargets(w io.Writer, results []zlResult) {
	find := func(mode string, n, size int) *zlResult {
		for i := range results {
			if r := &results[i]; r.Mode == mode && r.N == n && r.Size == size {
				return r
			}
		}
		return nil
	}
	fmt.Fprintln(w, "zero-loss targets (issue 12):")
	check := func(n, size int, peer string, want float64) {
		s, p := find("natsfan-socket", n, size), find(peer, n, size)
		if s == nil || p == nil {
			fmt.Fprintf(w, "  n/a     N=%d %s: natsfan-socket ≥ %.1f× %s: not measured\n", n, sizeName(size), want, peer)
			return
		}
		say(w, s.Rate >= want*p.Rate && s.Rate > 0, "N=%d %s: natsfan-socket ≥ %.1f× %s (%.2f×: %s against %s deliveries/s)",
			n, sizeName(size), want, peer, s.Rate/p.Rate, rateString(s.Rate), rateString(p.Rate))
	}
	for _, n := range []int{10, 50, 200} {
		check(n, 128, "leaf", 1.5)
		check(n, 128, "direct", 1.2)
	}
	check(1, 128, "direct", 0.8)
	for _, n := range []int{10, 50, 200} {
		check(n, 4096, "leaf", 1.2)
		check(n, 4096, "direct", 1.0)
	}
}

// checkShortZeroLoss is the smoke test's verdict on the zero-loss section:
// every mode searched every cell and reported. The rates are not judged: a
// half-second step on a busy CI machine says little.
func checkShortZeroLoss(c *config, results []zlResult) error {
	var errs []error
	for _, m := range c.modes {
		for _, size := range c.zlSizes {
			for _, n := range c.zlNs {
				i := slices.IndexFunc(results, func(r zlResult) bool { return r.Mode == m.name && r.N == n && r.Size == size })
				if i < 0 || results[i].Steps == 0 {
					errs = append(errs, fmt.Errorf("zero-loss, %s, N=%d, %s: no result", m.name, n, sizeName(size)))
				}
			}
		}
	}
	return errors.Join(errs...)
}
