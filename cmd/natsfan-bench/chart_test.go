package main

import (
	"path/filepath"
	"testing"
)

// TestWriteChart_DrawsOneConsumerCountAndOnePoint draws a chart of a run
// with one N, where each panel has a single point: its log axes have no
// range of their own.
func TestWriteChart_DrawsOneConsumerCountAndOnePoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.png")
	zl := []zlResult{{Mode: "natsfan-socket", N: 1, Size: 4096, Rate: 50_000}}
	results := []result{{Mode: "natsfan-socket", N: 1, Size: 4096, Rate: 0.5, P99: 900_000}}
	if err := writeChart(path, zl, results); err != nil {
		t.Fatal(err)
	}
}
