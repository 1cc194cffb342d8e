package fanout

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout/protocol"
	"github.com/natsfan/natsfan/subjects"
)

// wireClient is a raw client that subscribes and collects every byte the
// server sends it after its PONG.
type wireClient struct {
	name    string
	nc      net.Conn
	headers bool
	got     chan []byte // what it read, when it has read want bytes or failed
	want    []byte
}

// TestServer_SharedFramesGiveEachConsumerWhatItsOwnWould sends batches of
// mixed messages (replies, headers, a large payload, a no-responders
// status), then a batch of one subject, to consumers of every kind: those
// that send from the stream's shared frames (one SUB, with or without
// headers, on the whole stream, a subject or a wildcard, sid 1 or another,
// a SUB that came after the first batch) and those that encode their own
// (two SUBs, an UNSUB maximum, no echo, no no-responders statuses). Each
// must receive exactly the frames nats-server would send it.
func TestServer_SharedFramesGiveEachConsumerWhatItsOwnWould(t *testing.T) {
	srv, path := serveHub(t, []string{"s.>"}, ServerConfig{})
	st := srv.hub.Streams()[0]

	batch := func(k int) []Incoming {
		var in []Incoming
		for i := range 40 {
			in = append(in, Incoming{Subject: "s.x", Data: fmt.Appendf(nil, "x %d %d", k, i)})
			in = append(in, Incoming{Subject: "s.y", Reply: "_INBOX.r", Data: fmt.Appendf(nil, "y %d %d", k, i)})
		}
		in = append(in,
			Incoming{Subject: "s.x", Header: nats.Header{"K": []string{"v"}}, Data: []byte("with a header")},
			Incoming{Subject: "s.x", Data: bytes.Repeat([]byte{'L'}, 3*borrowMin)},
			Incoming{Subject: "s.x", Header: nats.Header{"Status": []string{"503"}}},
			Incoming{Subject: "s.a.b", Data: []byte("deeper")},
		)
		return in
	}

	dial := func(name, connect, subs string, headers bool) *wireClient {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := &wireClient{name: name, nc: nc, headers: headers, got: make(chan []byte, 1)}
		if _, err := io.WriteString(nc, "CONNECT "+connect+"\r\n"+subs+"PING\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var seen []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(seen, []byte("PONG\r\n")) {
			n, err := nc.Read(buf)
			if err != nil {
				t.Fatalf("%s: waiting for PONG after %q: %v", name, seen, err)
			}
			seen = append(seen, buf[:n]...)
		}
		if _, after, _ := bytes.Cut(seen, []byte("PONG\r\n")); len(after) > 0 {
			t.Fatalf("%s: received %q before anything was appended", name, after)
		}
		return c
	}
	plain := `{"verbose":false,"headers":true,"no_responders":true}`
	clients := map[string]*wireClient{
		"whole stream":     dial("whole stream", plain, "SUB s.> 1\r\n", true),
		"whole stream 2":   dial("whole stream 2", plain, "SUB s.> 1\r\n", true),
		"subject":          dial("subject", plain, "SUB s.x 1\r\n", true),
		"subject, sid 9":   dial("subject, sid 9", plain, "SUB s.x 9\r\n", true),
		"no headers":       dial("no headers", `{"verbose":false}`, "SUB s.x 1\r\n", false),
		"wildcard":         dial("wildcard", plain, "SUB s.* 1\r\n", true),
		"two SUBs":         dial("two SUBs", plain, "SUB s.x 1\r\nSUB s.y 2\r\n", true),
		"UNSUB max":        dial("UNSUB max", plain, "SUB s.x 1\r\nUNSUB 1 1000\r\n", true),
		"no echo":          dial("no echo", `{"verbose":false,"headers":true,"no_responders":true,"echo":false}`, "SUB s.x 1\r\n", true),
		"no status, sid 1": dial("no status, sid 1", `{"verbose":false,"headers":true}`, "SUB s.x 1\r\n", true),
	}

	// What nats-server sends a client for its SUBs (sid by subject
	// pattern), of the batches it was subscribed for.
	expect := func(c *wireClient, noResponders bool, subs map[string]string, batches ...[]Incoming) {
		for _, in := range batches {
			for _, m := range in {
				msg := NewMsg(m.Subject, m.Reply, m.Header, m.Data, time.Time{})
				if !noResponders && msg.isNoResponders() {
					continue
				}
				for pattern, sid := range subs {
					if !subjects.Match(pattern, m.Subject) {
						continue
					}
					if h := msg.RawHeader(); c.headers && h != nil {
						c.want = protocol.AppendHMsg(c.want, m.Subject, sid, m.Reply, h, m.Data)
					} else {
						c.want = protocol.AppendMsg(c.want, m.Subject, sid, m.Reply, m.Data)
					}
				}
			}
		}
	}

	first, second := batch(1), batch(2)
	var third []Incoming // one subject only
	for i := range 50 {
		third = append(third, Incoming{Subject: "s.x", Data: fmt.Appendf(nil, "x 3 %d", i)})
	}
	st.Append(time.Now(), first...)
	late := dial("a SUB that came late", plain, "SUB s.x 1\r\n", true)
	clients["a SUB that came late"] = late
	st.Append(time.Now(), second...)
	st.Append(time.Now(), third...)

	both := [][]Incoming{first, second, third}
	expect(clients["whole stream"], true, map[string]string{"s.>": "1"}, both...)
	expect(clients["whole stream 2"], true, map[string]string{"s.>": "1"}, both...)
	expect(clients["subject"], true, map[string]string{"s.x": "1"}, both...)
	expect(clients["subject, sid 9"], true, map[string]string{"s.x": "9"}, both...)
	expect(clients["no headers"], false, map[string]string{"s.x": "1"}, both...)
	expect(clients["wildcard"], true, map[string]string{"s.*": "1"}, both...)
	expect(clients["UNSUB max"], true, map[string]string{"s.x": "1"}, both...)
	expect(clients["no echo"], true, map[string]string{"s.x": "1"}, both...)
	expect(clients["no status, sid 1"], false, map[string]string{"s.x": "1"}, both...)
	expect(late, true, map[string]string{"s.x": "1"}, second, third)
	// Two SUBs: each message goes to the one whose subject it has, in
	// stream order.
	expect(clients["two SUBs"], true, map[string]string{"s.x": "1", "s.y": "2"}, both...)

	for _, c := range clients {
		go func() {
			got := make([]byte, len(c.want))
			_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := io.ReadFull(c.nc, got)
			if err != nil {
				got = append(got[:n:n], fmt.Sprintf("\n[read failed: %v]", err)...)
			}
			c.got <- got
		}()
	}
	for name, c := range clients {
		if got := <-c.got; !bytes.Equal(got, c.want) {
			i := 0
			for i < min(len(got), len(c.want)) && got[i] == c.want[i] {
				i++
			}
			t.Errorf("%s: received %d bytes, want %d; they differ from byte %d: got %q, want %q", name, len(got), len(c.want),
				i, got[i:min(len(got), i+80)], c.want[i:min(len(c.want), i+80)])
		}
	}

	st.wire.mu.Lock()
	shared := len(st.wire.made)
	st.wire.mu.Unlock()
	if shared == 0 {
		t.Error("no consumer sent from shared frames")
	}
}

// storedBatch returns a batch of n messages of size bytes on s.x, numbered
// from first, as a stream stores them.
func storedBatch(first uint64, n, size int) *batchInfo {
	in := make([]Incoming, n)
	for i := range in {
		in[i] = Incoming{Subject: "s.x", Data: bytes.Repeat([]byte{byte('a' + i%26)}, size)}
	}
	b := &batchInfo{}
	msgs, _ := storeAll(in, b)
	for i := range msgs {
		msgs[i].seq = first + uint64(i)
	}
	return b
}

func TestOutbound_SendsFromASharedPieceCountingItOnce(t *testing.T) {
	w := encodeWire(storedBatch(1, 100, 100).msgs, wireKey{sid: "1", headers: true})
	if len(w.pieces) != 1 {
		t.Fatalf("%d pieces for 100 frames of 100 B, want 1", len(w.pieces))
	}
	p := &w.pieces[0]

	var q outbound
	q.appendShared(p, p.offset(0), p.offset(30), 30, 0)
	q.appendShared(p, p.offset(30), p.offset(50), 20, 0) // the same run, longer
	if len(q.segs) != 1 || q.held != p.size() {
		t.Errorf("two runs of one piece, back to back: %d segments holding %d, want 1 holding the piece's %d", len(q.segs), q.held, p.size())
	}
	q.appendShared(p, p.offset(50), p.offset(55), 5, 0) // a few frames: copied
	if len(q.chunks) != 1 || q.held != p.size()+chunkSize {
		t.Errorf("a run of %d B: %d chunks, holding %d; want it copied into a chunk", p.offset(55)-p.offset(50), len(q.chunks), q.held)
	}
	q.appendShared(p, p.offset(55), p.offset(100), 45, 0)
	if q.held != p.size()+chunkSize {
		t.Errorf("held %d after a third run of the piece, want the piece counted once, %d", q.held, p.size()+chunkSize)
	}
	if got := q.messages(); got != 100 {
		t.Errorf("%d messages queued, want 100", got)
	}
	var f flight
	q.take(&f)
	if got := bytes.Join(f.segs, nil); !bytes.Equal(got, p.frames) {
		t.Errorf("sent %d bytes that differ from the piece's %d", len(got), len(p.frames))
	}
	if q.pinned != nil || q.held != 0 {
		t.Error("take left the piece counted in the queue")
	}
}

func TestWireCache_EncodesABatchOnceAndKeepsItsBudget(t *testing.T) {
	var c wireCache
	key := wireKey{sid: "1", headers: true}
	var batches []*batchInfo
	for k := range 2 * wireBudget / (200 * 1024) {
		b := storedBatch(uint64(1+200*k), 200, 1000)
		batches = append(batches, b)
		w := c.frames(b, key)
		if again := c.frames(b, key); again != w {
			t.Fatal("a batch's frames were encoded twice")
		}
		if other := c.frames(b, wireKey{sid: "2", headers: true}); other == w || other.key.sid != "2" {
			t.Fatal("another sid shares the first's frames")
		}
		if c.bytes > wireBudget {
			t.Fatalf("the cache holds %d bytes, more than its budget %d", c.bytes, wireBudget)
		}
	}
	if len(batches[0].wireAll()) != 0 {
		t.Error("the oldest batch kept its frames past the budget")
	}
	if w := c.frames(batches[0], key); w != nil {
		t.Error("a batch older than every one the full cache keeps was encoded again")
	}
	if len(batches[len(batches)-1].wireAll()) != 2 {
		t.Error("the newest batch lost its frames")
	}
	last := batches[len(batches)-1]
	for sid := range 2 * wireKeysMax {
		w := c.frames(last, wireKey{sid: fmt.Sprint(100 + sid), headers: true})
		if keys := len(last.wireAll()); keys > wireKeysMax || w == nil && keys < wireKeysMax {
			t.Fatalf("a batch has frames for %d keys (encoded for sid %d: %v), want up to %d", keys, 100+sid, w != nil, wireKeysMax)
		}
	}
	held := 0
	for _, b := range batches {
		for _, w := range b.wireAll() {
			held += w.size
		}
	}
	if held != c.bytes {
		t.Errorf("the batches hold %d bytes of frames, the cache counts %d", held, c.bytes)
	}
}
