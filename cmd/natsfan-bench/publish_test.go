package main

import "testing"

func TestOrderCheck_CountsLateMessagesNotGaps(t *testing.T) {
	o := newOrderCheck(2)
	msg := func(pub, seq int) []byte {
		p := make([]byte, pubHeader)
		stamp(p, phaseThroughput)
		stampOrder(p, pub, seq)
		return p
	}
	for _, m := range []struct{ pub, seq int }{
		{0, 0}, {1, 0}, {0, 1}, {0, 3}, // a gap: 0/2 lost, not reordered
		{1, 2}, {1, 1}, // late
		{0, 3}, // twice
		{1, 3},
	} {
		o.see(msg(m.pub, m.seq))
	}
	probe := make([]byte, pubHeader)
	stamp(probe, phaseWarmup)
	o.see(probe) // warm-up probes are not checked
	if got := o.reordered.Load(); got != 2 {
		t.Errorf("reordered = %d, want 2", got)
	}
}
