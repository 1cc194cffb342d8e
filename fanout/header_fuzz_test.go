package fanout

import (
	"maps"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzHeaderBlock feeds hostile HPUB header blocks to what natsfan does
// with them: nats.go reads them to publish upstream (publish.go), and what
// it reads, natsfan writes to its subscribers (encodeHeader). Neither may
// panic, and what is written must read back the same.
func FuzzHeaderBlock(f *testing.F) {
	for _, seed := range []string{
		"NATS/1.0\r\n\r\n",
		"NATS/1.0\r\nA: b\r\nA: c\r\nKey: value with spaces\r\n\r\n",
		"NATS/1.0 503\r\n\r\n",
		"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 7\r\n\r\n",
		"NATS/1.0\r\nNo-Colon\r\n\r\n",
		"HELLO\n",
		"NATS/1.0\r\n: empty key\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		h, err := nats.DecodeHeadersMsg(block)
		if err != nil || len(h) == 0 {
			return
		}
		again, err := nats.DecodeHeadersMsg(appendHeader(nil, h))
		if err != nil {
			t.Fatalf("%q read as %v, written as %q, which does not read: %v", block, h, appendHeader(nil, h), err)
		}
		if !maps.EqualFunc(h, again, slices.Equal[[]string]) {
			t.Fatalf("%q read as %v, written and read back as %v", block, h, again)
		}
	})
}
