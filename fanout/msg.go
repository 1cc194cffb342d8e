package fanout

import (
	"bytes"
	"slices"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// Msg is one message as natsfan received it from upstream. It is stored once
// and shared by every consumer that reads it, so it is read through methods
// only, and what they return must not be modified.
//
// A stored message is 48 bytes of bookkeeping, in a slice with the rest of
// its batch, and its bytes: the subject, reply, header block (in the NATS
// wire form socket consumers receive) and payload lie back to back in an
// arena it shares with the messages that arrived with it (see storeAll).
// The byte limits count both (size). Nothing else is allocated per message,
// which keeps the garbage collector's work small.
type Msg struct {
	body     *byte   // the first of its bytes: subject, reply, header block, payload
	stream   *Stream // the stream it was ingested through; nil if none
	seq      uint64  // its number in the stream: 1, 2, 3…; 0 if none
	received int64   // when natsfan received it, in Unix nanoseconds

	subjectLen, replyLen, headerLen, dataLen uint32
}

// msgOverhead is what a stored message costs beyond its bytes: the Msg in
// its batch's slice of messages.
const msgOverhead = uint64(unsafe.Sizeof(Msg{}))

// Incoming is a message as it arrives, before a Stream stores it. Append
// copies what it needs: the caller may reuse an Incoming and its bytes
// afterwards.
type Incoming struct {
	Subject  string      // the literal subject it was published on
	Reply    string      // the reply subject, if the publisher set one
	Header   nats.Header // nil when the message has no headers
	Data     []byte      // the payload
	Received time.Time   // when natsfan received it
}

// NewMsg returns a Msg, in no stream, for a message received on subject with
// the given reply, headers and payload. It copies them, the headers encoded
// once in the NATS wire format so that socket consumers need not, into one
// allocation.
func NewMsg(subject, reply string, header nats.Header, data []byte, received time.Time) *Msg {
	in := Incoming{Subject: subject, Reply: reply, Header: header, Data: data, Received: received}
	m := new(Msg)
	m.fill(&in, make([]byte, 0, in.bodySize()))
	return m
}

// bodySize is how many bytes in takes in a Msg's body.
func (in *Incoming) bodySize() int {
	return len(in.Subject) + len(in.Reply) + headerSize(in.Header) + len(in.Data)
}

// fill makes m the message in, its bytes appended to arena, which must have
// room for them (the messages of a batch share arenas), and returns the
// arena with them.
func (m *Msg) fill(in *Incoming, arena []byte) []byte {
	start := len(arena)
	arena = append(arena, in.Subject...)
	arena = append(arena, in.Reply...)
	if len(in.Header) > 0 {
		arena = appendHeader(arena, in.Header)
	}
	headerEnd := len(arena)
	arena = append(arena, in.Data...)
	*m = Msg{
		received:   in.Received.UnixNano(),
		subjectLen: uint32(len(in.Subject)),
		replyLen:   uint32(len(in.Reply)),
		headerLen:  uint32(headerEnd - start - len(in.Subject) - len(in.Reply)),
		dataLen:    uint32(len(in.Data)),
	}
	if len(arena) > start {
		m.body = &arena[start]
	}
	return arena
}

// Arenas: the bytes of a batch of messages are copied into as few
// allocations as waste little memory. Go rounds an allocation up to its
// size class, at most 12.5% more up to 32 KiB, and to whole 8 KiB pages
// above: a batch of 255 messages of 128 bytes in one allocation of 33.9 KB
// would take 40 KiB, 27 bytes a message. So small messages go into arenas
// of at most 32 KiB each, and larger ones, whose batches run to hundreds
// of KiB, share one allocation, where the rounding is a few percent.
const (
	arenaMax      = 32 << 10 // the largest small size class
	smallMsgBytes = 2 << 10  // average size below which a batch is cut into arenas
)

// storeAll returns the messages of in, their bytes copied into arenas, and
// the bytes it allocated for them, size classes included.
func storeAll(in []Incoming) (msgs []Msg, allocated uint64) {
	total := 0
	for i := range in {
		total += in[i].bodySize()
	}
	// slices.Grow rounds the capacity up to the size class, which tells
	// what the allocation really takes.
	msgs = slices.Grow([]Msg(nil), len(in))[:len(in)]
	allocated = uint64(cap(msgs)) * msgOverhead
	if total <= arenaMax || total/len(in) >= smallMsgBytes {
		arena := slices.Grow([]byte(nil), total)
		for i := range in {
			arena = msgs[i].fill(&in[i], arena)
		}
		return msgs, allocated + uint64(cap(arena))
	}
	for first := 0; first < len(in); {
		size, last := in[first].bodySize(), first+1 // a message larger than an arena has one of its own
		for last < len(in) && size+in[last].bodySize() <= arenaMax {
			size += in[last].bodySize()
			last++
		}
		arena := slices.Grow([]byte(nil), size)
		for i := first; i < last; i++ {
			arena = msgs[i].fill(&in[i], arena)
		}
		allocated += uint64(cap(arena))
		first = last
	}
	return msgs, allocated
}

// Subject returns the literal subject the message was published on.
func (m *Msg) Subject() string { return m.str(0, m.subjectLen) }

// Reply returns the reply subject, or "" if the publisher set none.
func (m *Msg) Reply() string { return m.str(m.subjectLen, m.replyLen) }

// RawHeader returns the headers as the NATS protocol carries them
// ("NATS/1.0\r\nKey: Value\r\n…\r\n"), or nil.
func (m *Msg) RawHeader() []byte {
	if m.headerLen == 0 {
		return nil
	}
	return m.bytes(m.subjectLen+m.replyLen, m.headerLen)
}

// Header returns the headers, decoded anew on each call (the caller may keep
// and modify the map), or nil if the message has none.
func (m *Msg) Header() nats.Header {
	raw := m.RawHeader()
	if raw == nil {
		return nil
	}
	h, err := nats.DecodeHeadersMsg(raw)
	if err != nil { // natsfan encoded them: cannot happen
		return nil
	}
	return h
}

// Data returns the payload. Its capacity is its length: appending to it
// copies.
func (m *Msg) Data() []byte {
	return m.bytes(m.subjectLen+m.replyLen+m.headerLen, m.dataLen)
}

// Stream returns the configured subject pattern the message was ingested
// through, or "" for a message that was not buffered.
func (m *Msg) Stream() string {
	if m.stream == nil {
		return ""
	}
	return m.stream.pattern
}

// Seq returns the message's number in its Stream (1, 2, 3…), 0 if it is in
// none.
func (m *Msg) Seq() uint64 { return m.seq }

// Received returns when natsfan received the message.
func (m *Msg) Received() time.Time { return time.Unix(0, m.received) }

// bytes returns n bytes of the body from off, without copying, and with no
// room to append into what follows.
func (m *Msg) bytes(off, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(m.body), off)), n)
}

// str returns n bytes of the body from off as a string, without copying:
// the body is never modified.
func (m *Msg) str(off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(m.body), off)), n)
}

// wireSize is the message's bytes: subject, reply, header block and
// payload. In retention and lag limits it counts for that plus
// msgOverhead, what it really costs to keep (Stream.Append).
func (m *Msg) wireSize() uint64 {
	return uint64(m.subjectLen) + uint64(m.replyLen) + uint64(m.headerLen) + uint64(m.dataLen)
}

// isNoResponders reports whether m is the status message nats-server
// sends for a request nobody can answer: no payload, and a status line
// "NATS/1.0 503".
func (m *Msg) isNoResponders() bool {
	raw := m.RawHeader()
	status, ok := bytes.CutPrefix(raw, []byte("NATS/1.0 "+noRespondersStatus))
	return ok && len(m.Data()) == 0 && (bytes.HasPrefix(status, []byte("\r\n")) || bytes.HasPrefix(status, []byte(" ")))
}

const headerLine = "NATS/1.0\r\n"

// nats.go turns a header block's status line ("NATS/1.0 503" or
// "NATS/1.0 100 Idle Heartbeat", which JetStream and no-responders replies
// carry) into these two header fields.
const (
	statusField      = "Status"
	descriptionField = "Description"
)

// hasStatus reports whether h carries a status line, as nats.go makes of
// one: a Status field of three digits.
func hasStatus(h nats.Header) bool {
	status := h[statusField]
	return len(status) == 1 && isStatusCode(status[0])
}

// headerSize is how many bytes appendHeader adds for h: 0 without headers.
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	status := hasStatus(h)
	size := len(headerLine) + 2
	for k, vs := range h {
		if status && (k == statusField || k == descriptionField) {
			size += len(k) + 2 + len(vs[0])
			continue
		}
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	return size
}

// appendHeader appends h in the NATS header wire format, keys sorted so
// that the same headers always give the same bytes. A Status field of three
// digits, as nats.go makes of a status line, is a status line again, so
// that clients see the status code the publisher (often the server) sent.
func appendHeader(b []byte, h nats.Header) []byte {
	status := hasStatus(h)
	keys := make([]string, 0, len(h))
	for k := range h {
		if !status || (k != statusField && k != descriptionField) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if status {
		b = append(b, "NATS/1.0 "...)
		b = append(b, h[statusField][0]...)
		if d := h[descriptionField]; len(d) > 0 {
			b = append(b, ' ')
			b = append(b, d[0]...)
		}
		b = append(b, "\r\n"...)
	} else {
		b = append(b, headerLine...)
	}
	for _, k := range keys {
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// isStatusCode reports whether s is a three-digit status code.
func isStatusCode(s string) bool {
	return len(s) == 3 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}
