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

func TestPubMedianOf_TakesMediansAndTheRunThatLostMost(t *testing.T) {
	runs := []pubResult{
		{Rate: 3, PubRate: 30, Published: 100, Received: 100, CPUPerM: 1},
		{Rate: 1, PubRate: 10, Published: 100, Received: 90, Lost: 10, Why: "receiver: 1 disconnect", CPUPerM: 3},
		{Rate: 2, PubRate: 20, Published: 100, Received: 101, Lost: -1, CPUPerM: 2},
	}
	r := pubMedianOf(runs)
	if r.Rate != 2 || r.RateRange != [2]float64{1, 3} || r.PubRate != 20 || r.CPUPerM != 2 {
		t.Errorf("medians: rate %v, publish rate %v, CPU %v; want 2, 20, 2", r.Rate, r.PubRate, r.CPUPerM)
	}
	if r.Lost != 10 || r.Received != 90 || r.Why != "receiver: 1 disconnect" {
		t.Errorf("worst run: lost %d, received %d, why %q", r.Lost, r.Received, r.Why)
	}
	// A message received twice is as wrong as one lost.
	if r := pubMedianOf(runs[2:]); r.Lost != -1 {
		t.Errorf("lost %d, want -1", r.Lost)
	}
}

func TestReqMedianOf_TakesMediansAndTheRunWithMostFailures(t *testing.T) {
	runs := []reqResult{
		{Answered: 10, P99: 3 * time.Millisecond, CPUPerReq: 30 * time.Microsecond},
		{Answered: 8, Failed: 2, P99: 1 * time.Millisecond, Why: "first error: nats: timeout", CPUPerReq: 10 * time.Microsecond},
		{Answered: 10, P99: 2 * time.Millisecond, CPUPerReq: 20 * time.Microsecond},
	}
	r := reqMedianOf(runs)
	if r.P99 != 2*time.Millisecond || r.P99Range != [2]time.Duration{time.Millisecond, 3 * time.Millisecond} || r.CPUPerReq != 20*time.Microsecond {
		t.Errorf("medians: p99 %v, CPU %v; want 2ms, 20µs", r.P99, r.CPUPerReq)
	}
	if r.Failed != 2 || r.Answered != 8 || r.Why != "first error: nats: timeout" {
		t.Errorf("worst run: %d failed, %d answered, why %q", r.Failed, r.Answered, r.Why)
	}
}
