package fanout

import (
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

func TestClosedRing_KeepsTheMostRecentClosesOldestFirst(t *testing.T) {
	r := newClosedRing()
	for i := 1; i <= 3*closedRingSize+5; i++ {
		r.add(&closedConn{cid: uint64(i)})
	}
	got := r.appendTo(nil)
	if len(got) != closedRingSize {
		t.Fatalf("the ring holds %d closes, want %d", len(got), closedRingSize)
	}
	first := uint64(3*closedRingSize + 5 - closedRingSize + 1)
	for i, cc := range got {
		if cc.cid != first+uint64(i) {
			t.Fatalf("record %d is cid %d, want %d (oldest first)", i, cc.cid, first+uint64(i))
		}
	}
}

// A close costs O(1) and allocates nothing once the ring is made, however
// many connections churn: the package's memory bound counts on it.
func TestClosedRing_AddAllocatesNothingOnceMade(t *testing.T) {
	r := newClosedRing()
	cc := &closedConn{cid: 1, reason: CloseClient, client: clientInfo{name: "app"}}
	if allocs := testing.AllocsPerRun(5*closedRingSize, func() { r.add(cc) }); allocs != 0 {
		t.Errorf("add allocates %v times per close, want 0", allocs)
	}
	// The documented bound: records of 208 bytes, 208 KiB in all.
	if size := unsafe.Sizeof(closedConn{}); size > 208 {
		t.Errorf("a record is %d bytes; closed.go says 208: update it and the README", size)
	}
}

func TestClosedState_EveryCloseReasonHasNatsServersName(t *testing.T) {
	for _, r := range append(closeReasons[:], closeWriteDeadline) {
		if s := closedState(r); s == "Unknown State" {
			t.Errorf("close reason %q has no nats-server name", r)
		}
	}
}

func TestCut_KeepsAtMostMaxClientFieldBytesOnARuneBoundary(t *testing.T) {
	short := "nats.go"
	if cut(short) != short {
		t.Errorf("cut(%q) = %q", short, cut(short))
	}
	long := strings.Repeat("é", 100) // 2 bytes each
	got := cut(long)
	if len(got) != maxClientField || !utf8.ValidString(got) {
		t.Errorf("cut of %d bytes: %d bytes, valid UTF-8 %v", len(long), len(got), utf8.ValidString(got))
	}
	odd := "x" + long
	if got := cut(odd); len(got) != maxClientField-1 || !utf8.ValidString(got) {
		t.Errorf("cut of %d bytes starting with one ASCII: %d bytes, valid UTF-8 %v", len(odd), len(got), utf8.ValidString(got))
	}
}
