package main

import (
	"bytes"
	"math"
	"testing"
)

func TestZLMedianOf_TakesMediansRangeAndTheLowestFailure(t *testing.T) {
	runs := []zlResult{
		{Mode: "leaf", N: 10, Rate: 3e6, CPUPerM: 0.3, PeakRSS: 30, FailedAt: 400e3, Why: "delivered late", Steps: 9},
		{Mode: "leaf", N: 10, Rate: 1e6, CPUPerM: 0.1, PeakRSS: 10, FailedAt: 150e3, Why: "12 of 100 lost", Steps: 8},
		{Mode: "leaf", N: 10, Rate: 2e6, CPUPerM: 0.2, PeakRSS: 20, Steps: 7},
	}
	r := zlMedianOf(runs)
	if r.Rate != 2e6 || r.MsgRate != 2e5 || r.RateRange != [2]float64{1e6, 3e6} {
		t.Errorf("rate %v (%v msgs/s), range %v; want 2e6 (2e5), [1e6 3e6]", r.Rate, r.MsgRate, r.RateRange)
	}
	if r.CPUPerM != 0.2 || r.PeakRSS != 20 {
		t.Errorf("CPU %v, RSS %v; want the medians 0.2, 20", r.CPUPerM, r.PeakRSS)
	}
	if r.FailedAt != 150e3 || r.Why != "12 of 100 lost" || r.Steps != 24 {
		t.Errorf("failed at %v (%q), %d steps; want 150e3, the loss, 24", r.FailedAt, r.Why, r.Steps)
	}
}

// A cell where natsfan-socket passed nothing has a rate of zero: a target
// against it is missed, never met by a division by zero.
func TestPrintZeroLossTargets_MissesWhatLostAtEveryRate(t *testing.T) {
	results := []zlResult{
		{Mode: "direct", N: 1, Size: 128, Rate: 1e6},
		{Mode: "natsfan-socket", N: 1, Size: 128, Rate: 0, CPUPerM: math.NaN()},
		{Mode: "direct", N: 10, Size: 128, Rate: 2e6},
		{Mode: "leaf", N: 10, Size: 128, Rate: 1e6},
		{Mode: "natsfan-socket", N: 10, Size: 128, Rate: 3e6},
	}
	var out bytes.Buffer
	printZeroLossTargets(&out, results)
	wantLines(t, out.String(),
		"MISSED  N=1 128 B: natsfan-socket ≥ 0.8× direct",
		"met     N=10 128 B: natsfan-socket ≥ 1.5× leaf (3.00×",
		"met     N=10 128 B: natsfan-socket ≥ 1.2× direct (1.50×",
		"n/a     N=50 128 B: natsfan-socket ≥ 1.5× leaf: not measured",
	)
}
