package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// Issue 12's targets are read off the delivery and idle results: a loss
// counts only in a cell where direct and leaf lost nothing, and a cell
// not run is not measured, never met.
func TestPrintTargets_ReadsIssue12sTargetsOffTheResults(t *testing.T) {
	cell := func(mode string, n, size int, lost int64, cpu float64) result {
		return result{Mode: mode, N: n, Size: size, Lost: lost, CPUPerM: cpu, Rate: 1e6}
	}
	nan := math.NaN()
	results := []result{
		cell("direct", 1, 4096, 0, nan), cell("leaf", 1, 4096, 0, 5), cell("natsfan-socket", 1, 4096, 70_248, 14),
		cell("direct", 10, 4096, 0, nan), cell("leaf", 10, 4096, 3, 4), cell("natsfan-socket", 10, 4096, 9, 5),
		cell("direct", 50, 128, 0, nan), cell("leaf", 50, 128, 0, 0.5), cell("natsfan-socket", 50, 128, 0, 0.05),
		cell("direct", 50, 4096, 0, nan), cell("leaf", 50, 4096, 0, 3.6), cell("natsfan-socket", 50, 4096, 0, 2.5),
	}
	idle := []idleResult{{Consumers: 10_000, RSS: 130 << 20, PeakRSS: 131 << 20}}
	var out bytes.Buffer
	printTargets(&out, results, idle)
	wantLines(t, out.String(),
		"met     10,000 idle socket consumers: sidecar RSS ≤ 256 MiB (130.0 MiB",
		"MISSED  natsfan-socket lost nothing in the 3 cells where direct and leaf lost nothing; N=1 4 KiB: 70248 + 0 paced lost\n",
		"met     N=50 128 B: sidecar CPU ≤ 0.06 s per million deliveries (0.05 s)",
		"MISSED  N=50 4 KiB: sidecar CPU ≤ 1.00 s per million deliveries (2.50 s)",
		"MISSED  10,000 idle socket consumers: sidecar RSS ≤ 128 MiB (130.0 MiB",
	)

	out.Reset()
	printTargets(&out, results[:3], nil)
	wantLines(t, out.String(),
		"n/a     N=50 128 B: sidecar CPU per million deliveries: not measured",
		"n/a     10,000 idle socket consumers ≤ 128 MiB: not measured",
	)
}

// wantLines fails the test for each of want that the report lacks.
func wantLines(t *testing.T, report string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("the report lacks %q:\n%s", w, report)
		}
	}
}
