package main

import (
	"math"
	"testing"
	"time"
)

func TestMedianOf_TakesMediansAndTheWorstLoss(t *testing.T) {
	runs := []result{
		{Rate: 3, P99: 3 * time.Millisecond, Lost: 0, CPUPerM: math.NaN()},
		{Rate: 1, P99: 1 * time.Millisecond, Lost: 7, PacedLost: 2, CutOff: 1, Why: "slow_consumer×1", CPUPerM: math.NaN()},
		{Rate: 2, P99: 2 * time.Millisecond, Lost: 0, CPUPerM: math.NaN()},
	}
	r := medianOf(runs)
	if r.Rate != 2 || r.P99 != 2*time.Millisecond {
		t.Errorf("medians: rate %v, p99 %v; want 2, 2ms", r.Rate, r.P99)
	}
	if r.Lost != 7 || r.PacedLost != 2 || r.CutOff != 1 || r.Why != "slow_consumer×1" {
		t.Errorf("worst loss: %+v", r)
	}
	if !math.IsNaN(r.CPUPerM) {
		t.Errorf("CPUPerM = %v, want NaN (n/a)", r.CPUPerM)
	}
}
