package fanout

import (
	"bytes"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Msg is one message as natsfan received it from upstream. It is stored once
// and shared by every consumer that reads it: treat every field, the Header
// map and the Data slice included, as read-only.
type Msg struct {
	Subject  string      // the literal subject it was published on
	Reply    string      // the reply subject, if the publisher set one
	Header   nats.Header // nil when the message has no headers
	Data     []byte      // the payload
	Stream   string      // the configured subject pattern it was ingested through
	Seq      uint64      // its number in Stream: 1, 2, 3…
	Received time.Time   // when natsfan received it

	rawHeader []byte // Header in NATS wire form, for consumers on the socket
}

// NewMsg returns a Msg for a message received on subject with the given
// reply, headers and payload, received now. It encodes the headers once, in
// the NATS wire format, so that socket consumers need not. The Msg keeps
// header and data: the caller must not modify them afterwards.
func NewMsg(subject, reply string, header nats.Header, data []byte, received time.Time) *Msg {
	m := &Msg{Subject: subject, Reply: reply, Data: data, Received: received}
	if len(header) > 0 {
		m.Header = header
		m.rawHeader = encodeHeader(header)
	}
	return m
}

// RawHeader returns the headers as the NATS protocol carries them
// ("NATS/1.0\r\nKey: Value\r\n…\r\n"), or nil. Do not modify it.
func (m *Msg) RawHeader() []byte { return m.rawHeader }

// size is what the message counts for in retention and lag limits: the bytes
// a consumer receives, not the bookkeeping around them.
func (m *Msg) size() uint64 {
	return uint64(len(m.Subject) + len(m.Reply) + len(m.rawHeader) + len(m.Data))
}

const headerLine = "NATS/1.0\r\n"

// nats.go turns a header block's status line ("NATS/1.0 503" or
// "NATS/1.0 100 Idle Heartbeat", which JetStream and no-responders replies
// carry) into these two header fields.
const (
	statusField      = "Status"
	descriptionField = "Description"
)

// encodeHeader renders h in the NATS header wire format, keys sorted so that
// the same headers always give the same bytes. A Status field of three
// digits, as nats.go makes of a status line, is a status line again, so that
// clients see the status code the publisher (often the server) sent.
func encodeHeader(h nats.Header) []byte {
	status := h[statusField]
	hasStatus := len(status) == 1 && isStatusCode(status[0])
	keys := make([]string, 0, len(h))
	size := len(headerLine) + 2
	for k, vs := range h {
		if hasStatus && (k == statusField || k == descriptionField) {
			size += len(k) + 2 + len(vs[0])
			continue
		}
		keys = append(keys, k)
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.Grow(size)
	if hasStatus {
		b.WriteString("NATS/1.0 ")
		b.WriteString(status[0])
		if d := h[descriptionField]; len(d) > 0 {
			b.WriteString(" ")
			b.WriteString(d[0])
		}
		b.WriteString("\r\n")
	} else {
		b.WriteString(headerLine)
	}
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// isStatusCode reports whether s is a three-digit status code.
func isStatusCode(s string) bool {
	return len(s) == 3 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}
