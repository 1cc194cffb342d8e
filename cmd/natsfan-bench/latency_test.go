package main

import (
	"testing"
	"time"
)

func TestBucketOf_RoundTripsWithinThreePercent(t *testing.T) {
	for _, v := range []int64{1, 63, 64, 100, 1000, 12345, 999_999, 5e9, 1 << 40} {
		got := bucketValue(bucketOf(v))
		if d := float64(got-v) / float64(v); d > 0.032 || d < -0.032 {
			t.Errorf("bucketValue(bucketOf(%d)) = %d, off by %.1f%%", v, got, 100*d)
		}
	}
}

func TestPercentiles_OfUniformLatencies(t *testing.T) {
	var h histogram
	for i := int64(1); i <= 1000; i++ {
		h.record(i * 1000)
	}
	var sum [histBuckets]uint64
	h.addTo(&sum)
	p := percentiles(&sum, 0.5, 0.99)
	if p[0] < 485*time.Microsecond || p[0] > 515*time.Microsecond {
		t.Errorf("p50 = %v, want about 500µs", p[0])
	}
	if p[1] < 960*time.Microsecond || p[1] > 1020*time.Microsecond {
		t.Errorf("p99 = %v, want about 990µs", p[1])
	}
}
