package fanout

import (
	"hash/maphash"
	"time"

	"github.com/natsfan/natsfan/subjects"
)

// A client that connects with "echo": false must not receive what it
// publishes itself. nats-server knows who published each message; natsfan
// sends everything upstream over one connection and gets it back from
// there (for a buffered subject through the hub, for another one through
// an interest), with nothing that says which local client sent it.
//
// So a connection without echo remembers what it has just published, as a
// fingerprint of subject, reply and payload (headers are left out:
// upstream hands them back re-encoded), for each of its own SUBs the
// message matches: each of them will get a copy back. A message that
// arrives for one of its SUBs with a fingerprint that SUB expects is its
// own echo, and is not delivered; the count goes down by one. Another publisher's
// message with the same subject, reply and payload, arriving first, would
// be taken for the echo and the echo delivered in its place: the client
// cannot tell the two apart, only their order. An expectation that no echo
// meets (upstream lost the message, or the SUB left first) lapses after
// echoTTL, and a connection expects at most maxEchoes distinct messages at
// once: past that its own messages come back to it, rather than natsfan
// holding more.
type echoFilter struct {
	pending map[echoKey]echoCount
}

type echoKey struct {
	fp uint64 // fingerprint
	cs *connSub
}

type echoCount struct {
	copies int   // copies still to come back
	at     int64 // unix nanoseconds of the last publish that added to it
}

const (
	echoTTL   = 10 * time.Second
	maxEchoes = 1024
)

var echoSeed = maphash.MakeSeed()

func fingerprint(subject, reply string, data []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(echoSeed)
	h.WriteString(subject)
	h.WriteByte(0)
	h.WriteString(reply)
	h.WriteByte(0)
	h.Write(data)
	return h.Sum64()
}

// expect records that a copy of a message the client publishes, with
// fingerprint fp, will come back to cs.
func (f *echoFilter) expect(fp uint64, cs *connSub, now int64) {
	if f.pending == nil {
		f.pending = make(map[echoKey]echoCount)
	}
	k := echoKey{fp, cs}
	e, ok := f.pending[k]
	if !ok && len(f.pending) >= maxEchoes {
		f.expire(now)
		if len(f.pending) >= maxEchoes {
			return
		}
	}
	f.pending[k] = echoCount{copies: e.copies + 1, at: now}
}

// own reports whether m, arriving for cs, is a copy of the client's own
// message, and counts it.
func (f *echoFilter) own(m *Msg, cs *connSub) bool {
	if len(f.pending) == 0 {
		return false
	}
	k := echoKey{fingerprint(m.Subject(), m.Reply(), m.Data()), cs}
	e, ok := f.pending[k]
	if !ok {
		return false
	}
	if time.Now().UnixNano()-e.at > int64(echoTTL) {
		delete(f.pending, k)
		return false
	}
	if e.copies--; e.copies == 0 {
		delete(f.pending, k)
	} else {
		f.pending[k] = e
	}
	return true
}

// expire forgets the expectations older than echoTTL.
func (f *echoFilter) expire(now int64) {
	for fp, e := range f.pending {
		if now-e.at > int64(echoTTL) {
			delete(f.pending, fp)
		}
	}
}

// expectEcho records, for a client without echo, the copies of a message
// it publishes that its own SUBs will receive. c.mu must be held.
func (c *conn) expectEchoLocked(subject, reply string, data []byte) {
	fp, now := uint64(0), int64(0)
	for _, cs := range c.subs {
		if !subjects.Match(cs.subject, subject) {
			continue
		}
		if now == 0 {
			fp, now = fingerprint(subject, reply, data), time.Now().UnixNano()
		}
		c.echoes.expect(fp, cs, now)
	}
}
