package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts latencies in buckets of about 3% relative width (32 per
// power of two, exact below 64 ns), in the manner of HdrHistogram: recording
// is one atomic add, so many consumers record concurrently without locks and
// the report may read while late messages still arrive.
type histogram struct {
	counts [histBuckets]atomic.Uint64
}

const (
	subBits     = 5 // 2^subBits buckets per power of two
	subCount    = 1 << subBits
	histBuckets = subCount * 60
)

// bucketOf returns the bucket of a latency of v nanoseconds.
func bucketOf(v int64) int {
	if v <= 0 {
		return 0
	}
	u := uint64(v)
	if u < 2*subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits - 1
	return min(subCount*shift+int(u>>shift), histBuckets-1)
}

// bucketValue returns the middle of bucket i, in nanoseconds.
func bucketValue(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	m := int64(i - subCount*shift)
	return m<<shift + (1<<shift)/2
}

func (h *histogram) record(d int64) { h.counts[bucketOf(d)].Add(1) }

// addTo adds h's counts into sum.
func (h *histogram) addTo(sum *[histBuckets]uint64) {
	for i := range h.counts {
		sum[i] += h.counts[i].Load()
	}
}

// percentiles returns the latencies at the given quantiles (0 < q ≤ 1) of the
// counts in sum, or zeros when sum is empty.
func percentiles(sum *[histBuckets]uint64, qs ...float64) []time.Duration {
	var total uint64
	for _, c := range sum {
		total += c
	}
	out := make([]time.Duration, len(qs))
	if total == 0 {
		return out
	}
	for j, q := range qs {
		rank := uint64(q*float64(total) + 0.5)
		rank = max(rank, 1)
		var seen uint64
		for i, c := range sum {
			seen += c
			if seen >= rank {
				out[j] = time.Duration(bucketValue(i))
				break
			}
		}
	}
	return out
}
