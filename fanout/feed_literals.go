package fanout

import "slices"

// literals indexes a feed's SUBs on literal subjects. Most connections have
// one SUB per stream, and a map for it would cost an idle connection some
// 400 bytes, so the entries are a slice while they are few and a map by
// subject beyond that.
type literals struct {
	few       []feedEntry            // while at most literalsFew: every entry, in the order they came
	bySubject map[string][]feedEntry // beyond: the entries by subject
}

// literalsFew is the most entries kept in a slice, which is searched
// entry by entry.
const literalsFew = 8

func (l *literals) add(e feedEntry) {
	if l.bySubject == nil && len(l.few) < literalsFew {
		l.few = append(l.few, e)
		return
	}
	if l.bySubject == nil {
		l.bySubject = make(map[string][]feedEntry, 2*literalsFew)
		for _, old := range l.few {
			l.bySubject[old.cs.subject] = append(l.bySubject[old.cs.subject], old)
		}
		l.few = nil
	}
	l.bySubject[e.cs.subject] = append(l.bySubject[e.cs.subject], e)
}

// remove drops cs's entry and reports whether it was there. A map, once
// made, stays: a connection that had many SUBs is likely to again.
func (l *literals) remove(cs *connSub) bool {
	is := func(e feedEntry) bool { return e.cs == cs }
	if l.bySubject == nil {
		n := len(l.few)
		l.few = slices.DeleteFunc(l.few, is)
		return len(l.few) < n
	}
	entries, ok := l.bySubject[cs.subject]
	if !ok {
		return false
	}
	n := len(entries)
	if entries = slices.DeleteFunc(entries, is); len(entries) == 0 {
		delete(l.bySubject, cs.subject)
	} else {
		l.bySubject[cs.subject] = entries
	}
	return len(entries) < n
}

// empty reports whether the index has no entry.
func (l *literals) empty() bool { return len(l.few) == 0 && len(l.bySubject) == 0 }

// only returns the index's entry for subject when the index holds that
// one entry and no other.
func (l *literals) only(subject string) (feedEntry, bool) {
	if l.bySubject == nil && len(l.few) == 1 && l.few[0].cs.subject == subject {
		return l.few[0], true
	}
	return feedEntry{}, false
}

// candidates returns the entries that may be for subject: every entry while
// they are few, those for subject beyond. The caller compares subjects.
func (l *literals) candidates(subject string) []feedEntry {
	if l.bySubject != nil {
		return l.bySubject[subject]
	}
	return l.few
}
