package main

import (
	"os"
	"testing"
)

func TestCPUTimeAndMemory_OfThisProcess(t *testing.T) {
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	rss, peak, err := memory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || peak < rss {
		t.Errorf("memory() = rss %d, peak %d; want 0 < rss <= peak", rss, peak)
	}
}
