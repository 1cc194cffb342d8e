package fanout

import (
	"bytes"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// Msg is one message as natsfan received it from upstream. It is stored once
// and shared by every consumer that reads it, so it is read through methods
// only, and what they return must not be modified.
//
// A stored message is 48 bytes of bookkeeping, in a slice with the rest of
// its batch, and its bytes: the subject, reply and header block (in the NATS
// wire form socket consumers receive) lie back to back in an arena it
// shares with the messages that arrived with it, followed by the payload
// when it is small; a large payload stays in the allocation it arrived in
// (see storeAll). The byte limits count all of it (Stream.Append). Nothing
// else is allocated per message, which keeps the garbage collector's work
// small.
type Msg struct {
	body  *byte      // the first of its subject, reply and header block
	data  *byte      // the first byte of its payload
	batch *batchInfo // what it shares with the messages appended with it
	seq   uint64     // its number in the stream: 1, 2, 3…; 0 if none

	subjectLen, replyLen, headerLen, dataLen uint32
}

// batchInfo is what the messages of one batch have in common.
type batchInfo struct {
	stream   *Stream // the stream they were ingested through; nil if none
	received int64   // when natsfan received them, in Unix nanoseconds
	msgs     []Msg   // the batch, when stored in a stream

	wire atomic.Pointer[[]*wireFrames] // the batch's frames, shared by socket consumers (wire.go)
}

// msgOverhead is what a stored message costs beyond its bytes: the Msg in
// its batch's slice of messages.
const msgOverhead = uint64(unsafe.Sizeof(Msg{}))

// Incoming is a message as it arrives, before a Stream stores it. Append
// copies what it needs, and keeps Data only if GiveData says so: otherwise
// the caller may reuse an Incoming and its bytes afterwards.
type Incoming struct {
	Subject string      // the literal subject it was published on
	Reply   string      // the reply subject, if the publisher set one
	Header  nats.Header // nil when the message has no headers
	Data    []byte      // the payload

	// GiveData hands Data over to the stream: the caller will neither
	// modify nor reuse it (nats.go allocates every message's payload
	// afresh). The payload is then kept where it is, not copied, unless it
	// is tiny (keepDataMin); the limits count it as allocated together with
	// the message's headers, as nats.go allocates them.
	GiveData bool
}

// keepDataMin is the smallest payload given with GiveData that a stream
// keeps where it is, in the allocation nats.go made for it, rather than
// copying it into the arena. The copy would not save that allocation, only
// turn it into garbage: copying payloads of 128 B cost the sidecar an
// eighth more CPU in a burst to one consumer (1.64 against 1.45 CPU-seconds
// per million deliveries) and a quarter more peak RSS, for the same live
// heap a message. Smaller payloads are still copied: in the arena they
// take their length, kept they would each hold a 16-byte block.
const keepDataMin = 16

// keepsData reports whether storing in keeps its payload where it is.
func (in *Incoming) keepsData() bool { return in.GiveData && len(in.Data) >= keepDataMin }

// NewMsg returns a Msg, in no stream, for a message received on subject with
// the given reply, headers and payload. It copies them, the headers encoded
// once in the NATS wire format so that socket consumers need not, into one
// allocation.
func NewMsg(subject, reply string, header nats.Header, data []byte, received time.Time) *Msg {
	in := Incoming{Subject: subject, Reply: reply, Header: header, Data: data}
	var arena strings.Builder
	arena.Grow(in.arenaSize())
	m := new(Msg)
	m.fill(&in, &arena)
	m.batch = &batchInfo{received: received.UnixNano()}
	return m
}

// arenaSize is how many bytes in takes in an arena.
func (in *Incoming) arenaSize() int {
	n := len(in.Subject) + len(in.Reply) + headerSize(in.Header)
	if !in.keepsData() {
		n += len(in.Data)
	}
	return n
}

// fill makes m the message in, its bytes written to arena, which must have
// been grown to hold them, so that it never moves: the messages of a batch
// share arenas. An arena is a strings.Builder because Grow does not zero
// what it allocates, and the bytes are never changed once written.
func (m *Msg) fill(in *Incoming, arena *strings.Builder) {
	start := arena.Len()
	arena.WriteString(in.Subject)
	arena.WriteString(in.Reply)
	if len(in.Header) > 0 {
		arena.Write(appendHeader(nil, in.Header))
	}
	headerEnd := arena.Len()
	if !in.keepsData() {
		arena.Write(in.Data)
	}
	written := arena.String()
	*m = Msg{
		subjectLen: uint32(len(in.Subject)),
		replyLen:   uint32(len(in.Reply)),
		headerLen:  uint32(headerEnd - start - len(in.Subject) - len(in.Reply)),
		dataLen:    uint32(len(in.Data)),
	}
	if headerEnd > start {
		m.body = unsafe.StringData(written[start:])
	}
	switch {
	case len(in.Data) == 0:
	case in.keepsData():
		m.data = &in.Data[0]
	default:
		m.data = unsafe.StringData(written[headerEnd:])
	}
}

// Arenas: a batch's subjects, replies, header blocks and small payloads are
// copied into arenas of at most 32 KiB, the largest size class of Go's
// allocator: a batch of 255 messages of 128 bytes in one allocation of
// 33.9 KB would take 40 KiB (larger allocations are rounded to whole 8 KiB
// pages, and come from the heap rather than a per-CPU cache), 27 bytes a
// message; in arenas of 32 KiB it wastes less than one message per arena.
const arenaMax = 32 << 10

// storeAll returns the messages of in, of the batch b, their bytes copied
// into arenas (or kept, see keepDataMin), and the bytes allocated for them,
// rounded up to the allocator's size classes.
func storeAll(in []Incoming, b *batchInfo) (msgs []Msg, allocated uint64) {
	msgs = make([]Msg, len(in))
	allocated = slabSize(len(in)) + allocSize(int(unsafe.Sizeof(*b)))
	for first := 0; first < len(in); {
		size, last := in[first].arenaSize(), first+1 // a message larger than an arena has one of its own
		for last < len(in) {
			n := in[last].arenaSize()
			if size+n > arenaMax {
				break
			}
			size += n
			last++
		}
		var arena strings.Builder
		arena.Grow(size)
		for i := first; i < last; i++ {
			msgs[i].fill(&in[i], &arena)
			msgs[i].batch = b
			if in[i].keepsData() {
				// nats.go reads headers and payload into one allocation,
				// which the payload keeps whole.
				allocated += allocSize(len(in[i].Data) + int(msgs[i].headerLen))
			}
		}
		allocated += allocSize(size)
		first = last
	}
	b.msgs = msgs
	return msgs, allocated
}

// sizeClasses are the sizes Go's allocator rounds a small allocation (32 KiB
// at most) up to, found at start: append grows a slice to a whole class.
var sizeClasses = func() []int {
	var classes []int
	for n := 1; n <= arenaMax; {
		class := cap(append([]byte(nil), make([]byte, n)...))
		classes = append(classes, class)
		n = class + 1
	}
	return classes
}()

// slabSize is what a batch's slice of n messages takes: Go's allocator adds
// an 8-byte header to an object with pointers larger than 512 bytes.
func slabSize(n int) uint64 {
	size := n * int(msgOverhead)
	if size > 512 {
		size += 8
	}
	return allocSize(size)
}

// allocSize is what an allocation of n bytes takes: its size class, or
// whole 8 KiB pages for a large one. Every allocation it is asked about
// under 16 bytes holds no pointers, and so comes from the tiny allocator's
// 16-byte blocks, which it keeps whole (the race detector gives it a block
// of its own).
func allocSize(n int) uint64 {
	const tinyBlock = 16
	if n > 0 && n < tinyBlock {
		return tinyBlock
	}
	if i, _ := slices.BinarySearch(sizeClasses, n); i < len(sizeClasses) {
		return uint64(sizeClasses[i])
	}
	const page = 8 << 10
	return uint64((n + page - 1) / page * page)
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
	if m.dataLen == 0 {
		return nil
	}
	return unsafe.Slice(m.data, m.dataLen)
}

// Stream returns the configured subject pattern the message was ingested
// through, or "" for a message that was not buffered.
func (m *Msg) Stream() string {
	if m.batch.stream == nil {
		return ""
	}
	return m.batch.stream.pattern
}

// batchIndex returns the index of m in its batch, which a stream stored.
func (m *Msg) batchIndex() int { return int(m.seq - m.batch.msgs[0].seq) }

// sentBytes returns the bytes of m a client receives, as nats-server counts
// out_bytes: its payload, and its header block if the client takes headers.
func (m *Msg) sentBytes(headers bool) uint64 {
	if headers {
		return uint64(m.headerLen + m.dataLen)
	}
	return uint64(m.dataLen)
}

// Seq returns the message's number in its Stream (1, 2, 3…), 0 if it is in
// none.
func (m *Msg) Seq() uint64 { return m.seq }

// Received returns when natsfan received the message.
func (m *Msg) Received() time.Time { return time.Unix(0, m.batch.received) }

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
// payload. Retention and lag limits count what storing it allocated
// instead (Stream.Append).
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
