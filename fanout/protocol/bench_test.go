package protocol

import (
	"bytes"
	"testing"
)

func benchParse(b *testing.B, frame []byte) {
	b.Helper()
	var p Parser
	nop := func(*Command) error { return nil }
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(frame, nop); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSub parses the SUB nats.go sends; the subject and sid
// strings are its only allocations.
func BenchmarkParseSub(b *testing.B) { benchParse(b, []byte("SUB orders.eu.>  1\r\n")) }

// BenchmarkParsePing parses a PING, the most frequent command on an idle
// connection.
func BenchmarkParsePing(b *testing.B) { benchParse(b, []byte("PING\r\n")) }

// BenchmarkParsePub parses a PUB with a 128-byte payload.
func BenchmarkParsePub(b *testing.B) {
	benchParse(b, append(append([]byte("PUB orders.eu.created 128\r\n"), bytes.Repeat([]byte("x"), 128)...), "\r\n"...))
}

// BenchmarkParsePubSplit parses the same PUB arriving in 16-byte reads, the
// worst case for copying.
func BenchmarkParsePubSplit(b *testing.B) {
	frame := append(append([]byte("PUB orders.eu.created 128\r\n"), bytes.Repeat([]byte("x"), 128)...), "\r\n"...)
	var p Parser
	nop := func(*Command) error { return nil }
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < len(frame); i += 16 {
			if err := p.Parse(frame[i:min(i+16, len(frame))], nop); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAppendMsg encodes a MSG with a 128-byte payload into a reused
// buffer, as natsfan's writer batches frames.
func BenchmarkAppendMsg(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 128)
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(MsgLen("orders.eu.created", "12", "", len(payload))))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendMsg(dst[:0], "orders.eu.created", "12", "", payload)
	}
}

// BenchmarkAppendHMsg encodes an HMSG with a 128-byte payload and a short
// header into a reused buffer.
func BenchmarkAppendHMsg(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 128)
	hdr := []byte("NATS/1.0\r\nNats-Msg-Id: 1234\r\n\r\n")
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(HMsgLen("orders.eu.created", "12", "", len(hdr), len(payload))))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendHMsg(dst[:0], "orders.eu.created", "12", "", hdr, payload)
	}
}
