package fanout

import (
	"fmt"
	"slices"
	"testing"
)

// TestLiterals_FindsEveryEntryInASliceAndInAMap adds SUBs on literal
// subjects past the slice's size, two on one subject, and removes them
// again: candidates always holds every entry for a subject.
func TestLiterals_FindsEveryEntryInASliceAndInAMap(t *testing.T) {
	var l literals
	var subs []*connSub
	for i := range 2 * literalsFew {
		cs := &connSub{sid: fmt.Sprint(i), subject: fmt.Sprintf("s.%d", i%(literalsFew+2))}
		subs = append(subs, cs)
		l.add(feedEntry{cs: cs})
		check := func(when string) {
			for _, want := range subs {
				found := slices.ContainsFunc(l.candidates(want.subject), func(e feedEntry) bool { return e.cs == want })
				if !found {
					t.Fatalf("%s: sid %s on %s is not among the candidates for its subject", when, want.sid, want.subject)
				}
			}
		}
		check(fmt.Sprintf("after %d SUBs", i+1))
	}
	if l.bySubject == nil {
		t.Fatalf("%d entries still in the slice", len(l.few))
	}
	if _, ok := l.only("s.0"); ok {
		t.Error("only found one entry among many")
	}
	for len(subs) > 0 {
		cs := subs[len(subs)-1]
		subs = subs[:len(subs)-1]
		if !l.remove(cs) {
			t.Fatalf("sid %s was not removed", cs.sid)
		}
		if l.remove(cs) {
			t.Fatalf("sid %s was removed twice", cs.sid)
		}
		if slices.ContainsFunc(l.candidates(cs.subject), func(e feedEntry) bool { return e.cs == cs }) {
			t.Fatalf("sid %s is still a candidate once removed", cs.sid)
		}
	}
	if !l.empty() {
		t.Error("the index is not empty once every entry is removed")
	}

	var one literals
	cs := &connSub{sid: "1", subject: "s.x"}
	one.add(feedEntry{cs: cs, from: 7})
	if e, ok := one.only("s.x"); !ok || e.cs != cs || e.from != 7 {
		t.Errorf("only(s.x) = %v, %v; want the one entry", e, ok)
	}
	if _, ok := one.only("s.y"); ok {
		t.Error("only(s.y) found the entry for s.x")
	}
}
