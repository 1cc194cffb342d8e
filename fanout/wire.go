package fanout

import (
	"slices"
	"strings"
	"sync"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// Most socket consumers of a stream receive the same bytes. A MSG frame
// differs between two clients only in the sid, and stock clients number
// their subscriptions 1, 2, 3… per connection, so the processes of a pod
// that each subscribe to a buffered subject mostly do so as sid 1. Encoding
// every message into every consumer's chunks (outbound.go) copies each
// message once per consumer, into memory that is cold by the time the next
// consumer's turn comes: at 200 consumers of 128-byte messages that copy
// was 58% of natsfan's CPU. So the frames of a batch are encoded once per
// sid and header mode (wireKey), into pieces that every consumer of that
// key sends from: writev points at them, or, for a run of a few messages,
// they are copied as they are, which costs less than encoding them.
//
// A feed sends from the shared frames when at least wireMinFeeds
// connections read its stream, its connection has one SUB on the stream
// (which is how a process subscribes to a buffered subject), and nothing
// has to be checked message by message: no UNSUB maximum, echo or status
// filtering, no request awaiting its reply. A message of more than
// wireFrameMax bytes, whose payload writev already points at, is not
// copied into the frames.
//
// Memory: a stream keeps the shared frames of the batches it encoded last,
// up to wireBudget bytes; older ones are dropped, and a consumer further
// behind than that has them encoded again. A connection that sends from a
// piece counts the whole piece against its outbound limit, so the pieces
// that consumers hold after the stream has dropped them are within their
// limits.

// wireBudget is how many bytes of shared frames a stream keeps.
const wireBudget = 8 << 20

// wireMinFeeds is the fewest connections reading a stream for its frames to
// be shared: one consumer would only pay for the copy.
const wireMinFeeds = 2

// wireKeysMax is the most wireKeys a batch has frames for. A client picks
// its sids, and each batch's keys are searched one by one; a connection
// whose key does not fit encodes its own.
const wireKeysMax = 8

// wirePieceMax is the most bytes of frames in one piece: small enough that
// a consumer that sends the end of a piece does not hold much more than it
// counts.
const wirePieceMax = chunkSize

// wireKey is what a frame depends on besides the message: the
// subscription's sid, and whether the client takes headers (HMSG).
type wireKey struct {
	sid     string
	headers bool
}

// wireFrames are the frames of every message of one batch, for one
// wireKey, in pieces.
type wireFrames struct {
	key          wireKey
	pieces       []wirePiece
	size         int  // bytes allocated for the pieces
	noResponders bool // some message is a no-responders status, which not every client takes
}

// wirePiece holds the frames of consecutive messages of a batch, and what
// a connection needs to know of them to send a run of them without looking
// at each message.
type wirePiece struct {
	first   int       // the index in its batch of the piece's first message
	frames  []byte    // their frames, back to back
	ends    []wireEnd // ends[j]: where message first+j ends
	subject string    // the subject of every message of the piece; "" if they differ
}

// wireEnd is where a message ends in its piece: its frame, and the header
// and payload bytes (as the wireKey sends them) of the piece's messages up
// to it, which connections count as out_bytes.
type wireEnd struct {
	frame, sent uint32
}

// at returns where the message at index i of the batch starts in the
// piece; for the index after its last message, where the piece ends.
func (p *wirePiece) at(i int) wireEnd {
	if j := i - p.first; j > 0 {
		return p.ends[j-1]
	}
	return wireEnd{}
}

// offset returns where the frame of the message at index i of the batch
// starts in the piece's frames; for the index after its last message, the
// end of its frames.
func (p *wirePiece) offset(i int) int { return int(p.at(i).frame) }

// end returns the index in the batch after the piece's last message.
func (p *wirePiece) end() int { return p.first + len(p.ends) }

// size returns the bytes allocated for the piece.
func (p *wirePiece) size() int {
	return int(allocSize(cap(p.frames)) + allocSize(8*cap(p.ends)) + allocSize(len(p.subject)))
}

// piece returns the piece that holds the frame of the message at index i
// of the batch; nil if none does.
func (w *wireFrames) piece(i int) *wirePiece {
	k, found := slices.BinarySearchFunc(w.pieces, i, func(p wirePiece, i int) int { return p.first - i })
	if !found {
		k--
	}
	if k < 0 || i >= w.pieces[k].end() {
		return nil
	}
	return &w.pieces[k]
}

// wireFrameMax is the largest frame shared: a larger one is sent from the
// message, whose payload writev points at (outbound.appendMsg), rather than
// copied once more.
const wireFrameMax = borrowMin

// encodeWire encodes the messages of msgs, a whole batch, whose frames for
// key are at most wireFrameMax bytes, into pieces of consecutive messages.
func encodeWire(msgs []Msg, key wireKey) *wireFrames {
	w := &wireFrames{key: key}
	for first := 0; first < len(msgs); {
		size, last := 0, first
		for last < len(msgs) {
			n := msgFrameLen(&msgs[last], key)
			if n > wireFrameMax || size+n > wirePieceMax {
				break
			}
			size += n
			last++
		}
		if last == first { // a large frame
			first++
			continue
		}
		p := wirePiece{first: first, frames: make([]byte, 0, size), ends: make([]wireEnd, 0, last-first), subject: strings.Clone(msgs[first].Subject())}
		var sent uint64
		for i := first; i < last; i++ {
			m := &msgs[i]
			p.frames = appendMsgFrame(p.frames, m, key)
			sent += m.sentBytes(key.headers)
			p.ends = append(p.ends, wireEnd{frame: uint32(len(p.frames)), sent: uint32(sent)})
			if m.Subject() != p.subject {
				p.subject = ""
			}
			w.noResponders = w.noResponders || m.isNoResponders()
		}
		w.pieces = append(w.pieces, p)
		w.size += p.size()
		first = last
	}
	return w
}

// msgFrameLen is the length of m's frame for a subscription of key.
func msgFrameLen(m *Msg, key wireKey) int {
	if h := m.RawHeader(); key.headers && h != nil {
		return protocol.HMsgLen(m.Subject(), key.sid, m.Reply(), len(h), len(m.Data()))
	}
	return protocol.MsgLen(m.Subject(), key.sid, m.Reply(), len(m.Data()))
}

// appendMsgFrame appends m's frame for a subscription of key: HMSG with its
// headers for a client that takes headers, MSG otherwise.
func appendMsgFrame(dst []byte, m *Msg, key wireKey) []byte {
	if h := m.RawHeader(); key.headers && h != nil {
		return protocol.AppendHMsg(dst, m.Subject(), key.sid, m.Reply(), h, m.Data())
	}
	return protocol.AppendMsg(dst, m.Subject(), key.sid, m.Reply(), m.Data())
}

// wireCache is a stream's shared frames: each batch points at those encoded
// for it (batchInfo.wire), and the cache remembers in which order they were
// made, to drop the oldest beyond wireBudget.
type wireCache struct {
	mu    sync.Mutex
	made  []wireMade // oldest first
	bytes int
}

type wireMade struct {
	batch  *batchInfo
	frames *wireFrames
}

// frames returns the frames of batch b for key, encoding them if no
// consumer has yet; nil if b already has frames for wireKeysMax other
// keys, or is older than every batch whose frames the full cache keeps. A consumer that far behind the others encodes its own:
// frames made for it would push out those that consumers nearer the newest
// messages are about to send, and they would make them again.
func (c *wireCache) frames(b *batchInfo, key wireKey) *wireFrames {
	if w := b.wireFor(key); w != nil {
		return w
	}
	// Encoded under the lock: the consumers of a batch all want it at
	// once, and one encoding them while the others wait costs less than
	// each encoding its own.
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := b.wireFor(key); w != nil {
		return w
	}
	if len(c.made) > 0 && c.bytes >= wireBudget/2 && b.msgs[0].seq < c.made[0].batch.msgs[0].seq {
		return nil
	}
	if len(b.wireAll()) >= wireKeysMax {
		return nil
	}
	w := encodeWire(b.msgs, key)
	b.wire.Store(new(append(slices.Clone(b.wireAll()), w)))
	c.made = append(c.made, wireMade{batch: b, frames: w})
	c.bytes += w.size
	for c.bytes > wireBudget && len(c.made) > 1 {
		old := c.made[0]
		c.made[0] = wireMade{}
		c.made = c.made[1:]
		c.bytes -= old.frames.size
		old.batch.wire.Store(new(slices.DeleteFunc(slices.Clone(old.batch.wireAll()), func(w *wireFrames) bool { return w == old.frames })))
	}
	return w
}

// wireAll returns the shared frames encoded for the batch.
func (b *batchInfo) wireAll() []*wireFrames {
	if p := b.wire.Load(); p != nil {
		return *p
	}
	return nil
}

// wireFor returns the batch's shared frames for key, or nil.
func (b *batchInfo) wireFor(key wireKey) *wireFrames {
	for _, w := range b.wireAll() {
		if w.key == key {
			return w
		}
	}
	return nil
}
