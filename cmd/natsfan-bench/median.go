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

func median(runs []result, f func(result) float64) float64 {
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

func medianDuration(runs []result, f func(result) time.Duration) time.Duration {
	return time.Duration(median(runs, func(r result) float64 { return float64(f(r)) }))
}
