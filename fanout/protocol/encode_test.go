package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestAppendMsg(t *testing.T) {
	for _, tc := range []struct {
		subject, sid, reply, payload string
		want                         string
	}{
		{"foo", "1", "", "hello", "MSG foo 1 5\r\nhello\r\n"},
		{"foo.bar", "22", "_INBOX.x", "hi", "MSG foo.bar 22 _INBOX.x 2\r\nhi\r\n"},
		{"foo", "1", "", "", "MSG foo 1 0\r\n\r\n"},
		{"foo", "1", "", "a\r\nb", "MSG foo 1 4\r\na\r\nb\r\n"},
	} {
		got := string(AppendMsg([]byte("PONG\r\n"), tc.subject, tc.sid, tc.reply, []byte(tc.payload)))
		if want := "PONG\r\n" + tc.want; got != want {
			t.Errorf("AppendMsg(%q, %q, %q, %q) = %q, want %q", tc.subject, tc.sid, tc.reply, tc.payload, got, want)
		}
	}
}

func TestAppendHMsg(t *testing.T) {
	hdr := []byte("NATS/1.0\r\nA: b\r\n\r\n")
	for _, tc := range []struct {
		reply, payload string
		want           string
	}{
		{"", "hello", "HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"},
		{"r", "", "HMSG foo 1 r 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n"},
	} {
		if got := string(AppendHMsg(nil, "foo", "1", tc.reply, hdr, []byte(tc.payload))); got != tc.want {
			t.Errorf("AppendHMsg(reply %q, payload %q) = %q, want %q", tc.reply, tc.payload, got, tc.want)
		}
	}
}

func TestAppendControlFrames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{string(AppendPing(nil)), "PING\r\n"},
		{string(AppendPong(nil)), "PONG\r\n"},
		{string(AppendOK(nil)), "+OK\r\n"},
		{string(AppendErr(nil, TextUnknownOp)), "-ERR 'Unknown Protocol Operation'\r\n"},
		{string(AppendErr(nil, TextMaxControlLine)), "-ERR 'maximum control line exceeded'\r\n"},
		{string(AppendErr(nil, SubscribeViolation("foo.>", ""))), "-ERR 'Permissions Violation for Subscription to \"foo.>\"'\r\n"},
		{string(AppendErr(nil, "two\r\nlines\n")), "-ERR 'two  lines '\r\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestViolationTexts(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{SubscribeViolation("orders.>", ""), `Permissions Violation for Subscription to "orders.>"`},
		{SubscribeViolation("orders.>", "workers"), `Permissions Violation for Subscription to "orders.>" using queue "workers"`},
		{SubscribeViolation("a\"b", ""), `Permissions Violation for Subscription to "a\"b"`},
		{PublishViolation("orders.new"), `Permissions Violation for Publish to "orders.new"`},
		{PublishViolation("ü\x01"), `Permissions Violation for Publish to "ü\x01"`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestMsgLenAndHMsgLen(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 100, 12345, 1 << 20} {
		payload := make([]byte, n)
		for _, reply := range []string{"", "_INBOX.abc"} {
			if got, want := MsgLen("foo.bar", "17", reply, n), len(AppendMsg(nil, "foo.bar", "17", reply, payload)); got != want {
				t.Errorf("MsgLen(reply %q, %d) = %d, want %d", reply, n, got, want)
			}
			for _, h := range []int{0, 12, 100} {
				hdr := make([]byte, h)
				if got, want := HMsgLen("foo.bar", "17", reply, h, n), len(AppendHMsg(nil, "foo.bar", "17", reply, hdr, payload)); got != want {
					t.Errorf("HMsgLen(reply %q, %d, %d) = %d, want %d", reply, h, n, got, want)
				}
			}
		}
	}
}

func TestAppendMsg_DoesNotAllocateWithRoom(t *testing.T) {
	payload := make([]byte, 128)
	hdr := []byte("NATS/1.0\r\nA: b\r\n\r\n")
	dst := make([]byte, 0, HMsgLen("orders.eu.created", "12", "_INBOX.reply", len(hdr), len(payload)))
	if n := testing.AllocsPerRun(1000, func() {
		_ = AppendMsg(dst, "orders.eu.created", "12", "_INBOX.reply", payload)
	}); n != 0 {
		t.Errorf("AppendMsg allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		_ = AppendHMsg(dst, "orders.eu.created", "12", "_INBOX.reply", hdr, payload)
	}); n != 0 {
		t.Errorf("AppendHMsg allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		_ = AppendErr(AppendPong(AppendPing(dst[:0])), TextStaleConnection)
	}); n != 0 {
		t.Errorf("AppendPing, AppendPong and AppendErr allocate %v times, want 0", n)
	}
}

// TestAppendInfo_IsWhatNATSServerSends compares AppendInfo with nats-server's
// own encoding of the same values (server/util.go, generateInfoJSON).
func TestAppendInfo_IsWhatNATSServerSends(t *testing.T) {
	ours := ServerInfo{
		ID: "NATSFAN", Name: "natsfan-pod-1", Version: "2.15.2", Proto: 1, GitCommit: "abc",
		GoVersion: "go1.26.0", Host: "0.0.0.0", Port: 4222, Headers: true, MaxPayload: 1 << 20,
		JetStream: true, ClientID: 42, ClientIP: "127.0.0.1", ConnectURLs: []string{"127.0.0.1:4222"}, LameDuckMode: true,
		ConnectInfo: true, RemoteAccount: "ACME", IsSystemAccount: true, JSAPILevel: 5,
	}
	theirs := server.Info{
		ID: ours.ID, Name: ours.Name, Version: ours.Version, Proto: ours.Proto, GitCommit: ours.GitCommit,
		GoVersion: ours.GoVersion, Host: ours.Host, Port: ours.Port, Headers: ours.Headers, MaxPayload: ours.MaxPayload,
		JetStream: true, CID: ours.ClientID, ClientIP: ours.ClientIP, ClientConnectURLs: ours.ConnectURLs, LameDuckMode: true,
		ConnectInfo: true, RemoteAccount: ours.RemoteAccount, IsSystemAccount: true, JSApiLevel: ours.JSAPILevel,
	}
	js, err := json.Marshal(&theirs)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{[]byte("INFO"), js, []byte("\r\n")}, []byte(" "))
	if got := AppendInfo(nil, &ours); !bytes.Equal(got, want) {
		t.Fatalf("AppendInfo:\n got %s\nwant %s", got, want)
	}

	// And with the optional fields empty, a minimal INFO.
	const minimal = `INFO {"server_id":"x","server_name":"","version":"","proto":1,"go":"","host":"","port":0,"headers":true,"max_payload":1024} ` + "\r\n"
	if got := string(AppendInfo(nil, &ServerInfo{ID: "x", Proto: 1, Headers: true, MaxPayload: 1024})); got != minimal {
		t.Fatalf("AppendInfo:\n got %q\nwant %q", got, minimal)
	}
}

// TestAppendMsg_RoundTrip encodes random messages in one stream and reads
// them back with clientParse, a reader written after nats.go's parser.
func TestAppendMsg_RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var want []clientMsg
	var stream []byte
	for i := range 1000 {
		m := clientMsg{
			subject: "s." + strconv.Itoa(rng.IntN(100)),
			sid:     strconv.Itoa(i),
			payload: randomBytes(rng, rng.IntN(300)),
		}
		if rng.IntN(2) == 0 {
			m.reply = "_INBOX." + strconv.Itoa(i)
		}
		if rng.IntN(2) == 0 {
			m.header = "NATS/1.0\r\nK: " + strconv.Itoa(i) + "\r\n\r\n"
			stream = AppendHMsg(stream, m.subject, m.sid, m.reply, []byte(m.header), []byte(m.payload))
		} else {
			stream = AppendMsg(stream, m.subject, m.sid, m.reply, []byte(m.payload))
		}
		want = append(want, m)
	}
	got, err := clientParse(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d messages back, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func randomBytes(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return string(b)
}

type clientMsg struct{ subject, sid, reply, header, payload string }

// clientParse reads MSG and HMSG frames as nats.go does: arguments split at
// blanks, decimal sizes, payload of the declared size, then CRLF.
func clientParse(b []byte) ([]clientMsg, error) {
	var msgs []clientMsg
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			return msgs, fmt.Errorf("no CRLF after %q", b)
		}
		f := strings.Fields(string(line))
		var m clientMsg
		var hdr, size int
		var err1, err2 error
		switch {
		case f[0] == "MSG" && (len(f) == 4 || len(f) == 5):
			m.subject, m.sid = f[1], f[2]
			if len(f) == 5 {
				m.reply = f[3]
			}
			size, err1 = strconv.Atoi(f[len(f)-1])
		case f[0] == "HMSG" && (len(f) == 5 || len(f) == 6):
			m.subject, m.sid = f[1], f[2]
			if len(f) == 6 {
				m.reply = f[3]
			}
			hdr, err1 = strconv.Atoi(f[len(f)-2])
			size, err2 = strconv.Atoi(f[len(f)-1])
		default:
			return msgs, fmt.Errorf("bad line %q", line)
		}
		if err1 != nil || err2 != nil || hdr > size || len(rest) < size+2 || string(rest[size:size+2]) != "\r\n" {
			return msgs, fmt.Errorf("bad sizes or framing in %q", line)
		}
		m.header, m.payload = string(rest[:hdr]), string(rest[hdr:size])
		msgs = append(msgs, m)
		b = rest[size+2:]
	}
	return msgs, nil
}
