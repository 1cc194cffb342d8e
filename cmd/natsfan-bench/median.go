package main

import (
	"math"
	"slices"
	"time"
)

// medianOf combines repeated runs of one cell: the median of every rate,
// latency, CPU and memory figure, and the worst of every loss, so that a
// loss in any run shows.
func medianOf(runs []result) result {
	r := runs[0]
	r.Rate = median(runs, func(r result) float64 { return r.Rate })
	r.EgressPerMsg = median(runs, func(r result) float64 { return r.EgressPerMsg })
	r.Copies = median(runs, func(r result) float64 { return r.Copies })
	r.CPUPerM = median(runs, func(r result) float64 { return r.CPUPerM })
	r.PeakRSS = int64(median(runs, func(r result) float64 { return float64(r.PeakRSS) }))
	r.P50 = medianDuration(runs, func(r result) time.Duration { return r.P50 })
	r.P99 = medianDuration(runs, func(r result) time.Duration { return r.P99 })
	r.P999 = medianDuration(runs, func(r result) time.Duration { return r.P999 })
	r.BurstP99 = medianDuration(runs, func(r result) time.Duration { return r.BurstP99 })
	for _, x := range runs[1:] {
		if x.Lost > r.Lost {
			r.Lost, r.Delivered = x.Lost, x.Delivered
		}
		r.PacedLost = max(r.PacedLost, x.PacedLost)
		if x.CutOff > r.CutOff {
			r.CutOff, r.Why = x.CutOff, x.Why
		}
	}
	return r
}

// median is the median of f over runs, leaving out NaN (not measured); NaN
// if none is measured.
func median[R any](runs []R, f func(R) float64) float64 {
	var v []float64
	for _, r := range runs {
		if x := f(r); !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func medianDuration[R any](runs []R, f func(R) time.Duration) time.Duration {
	return time.Duration(median(runs, func(r R) float64 { return float64(f(r)) }))
}

// pubMedianOf combines repeated runs of one publish cell as medianOf does:
// medians of the rates, CPU and memory, and the run that lost most (or
// received most twice: a negative loss), with its counts and why.
func pubMedianOf(runs []pubResult) pubResult {
	r := runs[0]
	for _, x := range runs[1:] {
		if worse, tie := abs(x.Lost) > abs(r.Lost), x.Lost == r.Lost; worse || (tie && r.Why == "" && x.Why != "") {
			r.Published, r.Received, r.Lost, r.ReachedUpstream, r.Why = x.Published, x.Received, x.Lost, x.ReachedUpstream, x.Why
		}
		r.Reordered = max(r.Reordered, x.Reordered)
	}
	r.Rate = median(runs, func(r pubResult) float64 { return r.Rate })
	r.RateRange = [2]float64{r.Rate, r.Rate}
	for _, x := range runs {
		r.RateRange = [2]float64{min(r.RateRange[0], x.Rate), max(r.RateRange[1], x.Rate)}
	}
	r.PubRate = median(runs, func(r pubResult) float64 { return r.PubRate })
	r.CPUPerM = median(runs, func(r pubResult) float64 { return r.CPUPerM })
	r.PeakRSS = int64(median(runs, func(r pubResult) float64 { return float64(r.PeakRSS) }))
	return r
}

// reqMedianOf combines repeated runs of one request cell: medians of the
// latencies, rate, CPU and memory, and the run with the most failures,
// with its counts and why.
func reqMedianOf(runs []reqResult) reqResult {
	r := runs[0]
	for _, x := range runs[1:] {
		if x.Failed > r.Failed || (x.Failed == r.Failed && r.Why == "" && x.Why != "") {
			r.Answered, r.Failed, r.Why = x.Answered, x.Failed, x.Why
		}
	}
	r.Rate = median(runs, func(r reqResult) float64 { return r.Rate })
	r.P50 = medianDuration(runs, func(r reqResult) time.Duration { return r.P50 })
	r.P99 = medianDuration(runs, func(r reqResult) time.Duration { return r.P99 })
	r.P99Range = [2]time.Duration{r.P99, r.P99}
	for _, x := range runs {
		r.P99Range = [2]time.Duration{min(r.P99Range[0], x.P99), max(r.P99Range[1], x.P99)}
	}
	r.P999 = medianDuration(runs, func(r reqResult) time.Duration { return r.P999 })
	r.CPUPerReq = medianDuration(runs, func(r reqResult) time.Duration { return r.CPUPerReq })
	r.PeakRSS = int64(median(runs, func(r reqResult) float64 { return float64(r.PeakRSS) }))
	return r
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
