package protocol

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Limits for the table tests: small, so that tests can pass them.
const (
	testMCL  = 256
	testMPay = 128
)

// natsGoConnect is the CONNECT nats.go v1.55 sends to a server that
// announced headers (nats.go connectProto), byte for byte.
const natsGoConnect = `CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"","lang":"go","version":"1.55.0","protocol":1,"echo":true,"headers":true,"no_responders":true}` + "\r\n"

type parserCase struct {
	name    string
	in      string
	want    []rec
	err     error  // sentinel, or nil
	errText string // the -ERR text

	// natsServer, if not empty, says why nats-server v2.15 answers the
	// case differently, on purpose.
	natsServer string
}

var parserCases = []parserCase{
	// What stock clients send.
	{name: "nats.go CONNECT", in: natsGoConnect,
		want: []rec{{Op: OpConnect, Arg: strings.TrimSuffix(natsGoConnect[len("CONNECT "):], "\r\n")}}},
	{name: "nats.go SUB without queue has two spaces", in: "SUB foo  1\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", SID: "1"}}},
	{name: "nats.go SUB with queue", in: "SUB foo workers 2\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", Queue: "workers", SID: "2"}}},
	{name: "nats.go UNSUB without max has a trailing space", in: "UNSUB 1 \r\n",
		want: []rec{{Op: OpUnsub, SID: "1"}}},
	{name: "nats.go UNSUB with max", in: "UNSUB 7 10\r\n",
		want: []rec{{Op: OpUnsub, SID: "7", Max: 10}}},
	{name: "nats.go PING and PONG", in: "PING\r\nPONG\r\n",
		want: []rec{{Op: OpPing}, {Op: OpPong}}},
	{name: "nats.go PUB", in: "PUB foo 5\r\nhello\r\n",
		want: []rec{{Op: OpPub, Subject: "foo", Payload: "hello"}}},
	{name: "nats.go PUB with reply", in: "PUB foo _INBOX.x 5\r\nhello\r\n",
		want: []rec{{Op: OpPub, Subject: "foo", Reply: "_INBOX.x", Payload: "hello"}}},
	{name: "nats.go HPUB", in: "HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n",
		want: []rec{{Op: OpHPub, Subject: "foo", HeaderSize: 18, Payload: "NATS/1.0\r\nA: b\r\n\r\nhello"}}},
	{name: "HPUB with reply and empty body", in: "HPUB foo bar 12 12\r\nNATS/1.0\r\n\r\n\r\n",
		want: []rec{{Op: OpHPub, Subject: "foo", Reply: "bar", HeaderSize: 12, Payload: "NATS/1.0\r\n\r\n"}}},
	{name: "a connection's opening", in: natsGoConnect + "PING\r\nSUB a.> 1\r\nSUB b q 2\r\nUNSUB 1 \r\nPONG\r\n",
		want: []rec{
			{Op: OpConnect, Arg: strings.TrimSuffix(natsGoConnect[len("CONNECT "):], "\r\n")},
			{Op: OpPing}, {Op: OpSub, Subject: "a.>", SID: "1"},
			{Op: OpSub, Subject: "b", Queue: "q", SID: "2"}, {Op: OpUnsub, SID: "1"}, {Op: OpPong}}},

	// Tolerance.
	{name: "verbs in lower and mixed case", in: "sub foo 1\r\nSub foo 2\r\nuNsUb 1\r\nping\r\nPoNg\r\nconnect {}\r\npub a 0\r\n\r\nhpub a 0 0\r\n\r\n+ok\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", SID: "1"}, {Op: OpSub, Subject: "foo", SID: "2"},
			{Op: OpUnsub, SID: "1"}, {Op: OpPing}, {Op: OpPong}, {Op: OpConnect, Arg: "{}"},
			{Op: OpPub, Subject: "a"}, {Op: OpHPub, Subject: "a"}, {Op: OpOK}}},
	{name: "tabs and runs of blanks", in: "SUB\tfoo \t bar\t\t3 \t\r\nUNSUB\t\t3\t5\t\r\nPUB \t x\t 1\r\nz\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", Queue: "bar", SID: "3"}, {Op: OpUnsub, SID: "3", Max: 5},
			{Op: OpPub, Subject: "x", Payload: "z"}}},
	{name: "bare LF ends a line", in: "SUB foo 1\nPING\nPUB bar 2\nhi\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", SID: "1"}, {Op: OpPing}, {Op: OpPub, Subject: "bar", Payload: "hi"}}},
	{name: "a CR inside a line separates arguments", in: "SUB foo\r1\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", SID: "1"}}},
	{name: "the rest of a PING, PONG or +OK line is ignored", in: "PING foo\r\nPINGPONG\r\nPONG\tx\n+OK whatever\r\n",
		want: []rec{{Op: OpPing}, {Op: OpPing}, {Op: OpPong}, {Op: OpOK}}},
	{name: "CONNECT needs no blank", in: "CONNECT{\"verbose\":true}\r\nCONNECT \t {}  \r\n",
		want: []rec{{Op: OpConnect, Arg: `{"verbose":true}`}, {Op: OpConnect, Arg: "{}  "}}},
	{name: "CONNECT with nothing after it", in: "CONNECT\r\n",
		want: []rec{{Op: OpConnect}}},
	{name: "sid is an opaque token", in: "SUB foo abc-1\r\nUNSUB abc-1\r\n",
		want: []rec{{Op: OpSub, Subject: "foo", SID: "abc-1"}, {Op: OpUnsub, SID: "abc-1"}}},
	{name: "UNSUB max that is not a positive number means now", in: "UNSUB 1 x\r\nUNSUB 2 -5\r\nUNSUB 3 0\r\nUNSUB 4 1234567890\r\n",
		want: []rec{{Op: OpUnsub, SID: "1"}, {Op: OpUnsub, SID: "2"}, {Op: OpUnsub, SID: "3"}, {Op: OpUnsub, SID: "4"}}},
	{name: "INFO, +OK and -ERR from a client", in: "INFO {\"x\":1}\r\n+OK\r\n-ERR 'oops'\r\n",
		want: []rec{{Op: OpInfo, Arg: `{"x":1}`}, {Op: OpOK}, {Op: OpErr, Arg: "'oops'"}}},

	// Payloads.
	{name: "zero-size payload", in: "PUB foo 0\r\n\r\nPING\r\n",
		want: []rec{{Op: OpPub, Subject: "foo"}, {Op: OpPing}}},
	{name: "payload containing CRLF and verbs", in: "PUB foo 17\r\nPING\r\nSUB x 1\r\n\r\n\r\n",
		want: []rec{{Op: OpPub, Subject: "foo", Payload: "PING\r\nSUB x 1\r\n\r\n"}}},
	{name: "payload of exactly the maximum", in: "PUB foo 128\r\n" + strings.Repeat("x", 128) + "\r\n",
		want: []rec{{Op: OpPub, Subject: "foo", Payload: strings.Repeat("x", 128)}}},
	{name: "payload of binary bytes", in: "PUB foo 4\r\n\x00\xff\n\r\r\n",
		want: []rec{{Op: OpPub, Subject: "foo", Payload: "\x00\xff\n\r"}}},

	// Control line limit, counted from the first byte after the verb's
	// blanks to the end of the line, CRLF excluded.
	{name: "control line of exactly the limit", in: "SUB " + strings.Repeat("s", testMCL-2) + " 1\r\n",
		want: []rec{{Op: OpSub, Subject: strings.Repeat("s", testMCL-2), SID: "1"}}},
	{name: "control line of exactly the limit with LF", in: "SUB   " + strings.Repeat("s", testMCL-2) + " 1\n",
		want: []rec{{Op: OpSub, Subject: strings.Repeat("s", testMCL-2), SID: "1"}}},
	{name: "control line one over the limit", in: "SUB " + strings.Repeat("s", testMCL-1) + " 1\r\n",
		err: ErrMaxControlLine, errText: TextMaxControlLine},
	{name: "control line one over the limit with LF", in: "SUB " + strings.Repeat("s", testMCL-1) + " 1\n",
		err: ErrMaxControlLine, errText: TextMaxControlLine},
	{name: "control line over the limit that never ends", in: "PING\r\nCONNECT " + strings.Repeat("{", 3*testMCL),
		want: []rec{{Op: OpPing}}, err: ErrMaxControlLine, errText: TextMaxControlLine},
	{name: "control line that ends in CR at the limit, then more", in: "SUB " + strings.Repeat("s", testMCL) + "\rx",
		err: ErrMaxControlLine, errText: TextMaxControlLine},
	{name: "control line one over the limit, incomplete", in: "SUB " + strings.Repeat("s", testMCL+1),
		err: ErrMaxControlLine, errText: TextMaxControlLine},
	{name: "control line at the limit plus CR, incomplete", in: "SUB " + strings.Repeat("s", testMCL) + "\r"},

	// Errors nats-server answers with -ERR 'Unknown Protocol Operation'.
	{name: "unknown verb", in: "PING\r\nFOO\r\n", want: []rec{{Op: OpPing}},
		err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "unknown verb fails at its first wrong byte", in: "SUX",
		err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "empty line", in: "\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "leading blank", in: " PING\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "verb run into its argument", in: "SUBfoo 1\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "SUB without arguments", in: "SUB\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "-ERR without a blank", in: "-ERR\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "MSG is a server op", in: "MSG foo 1 0\r\n\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "HMSG is a server op", in: "HMSG foo 1 0 5\r\nhello\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "HMSG is a server op, even without payload", in: "HMSG foo 1 0 0\r\n\r\n", err: ErrUnknownOp, errText: TextUnknownOp,
		natsServer: "its parser lets a client's HMSG through to a state meant for routes, which swallows one with no payload"},
	{name: "non-ASCII letter", in: "ſUB foo 1\r\n", err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "payload longer than declared", in: "PUB foo 2\r\nabc\r\n",
		err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "payload followed by LF only", in: "PUB foo 2\r\nab\nPING\r\n",
		err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "payload followed by CR and not LF", in: "PUB foo 2\r\nab\r\r",
		err: ErrUnknownOp, errText: TextUnknownOp},
	{name: "zero-size payload without CRLF", in: "PUB foo 0\r\nPING\r\n",
		err: ErrUnknownOp, errText: TextUnknownOp},

	// Errors nats-server closes the connection on without an -ERR line.
	{name: "SUB with one argument", in: "SUB foo\r\n", err: ErrMalformed},
	{name: "SUB with only blanks", in: "SUB  \t \r\n", err: ErrMalformed},
	{name: "SUB with four arguments", in: "SUB a b c d\r\n", err: ErrMalformed},
	{name: "UNSUB without arguments", in: "UNSUB \r\n", err: ErrMalformed},
	{name: "UNSUB with three arguments", in: "UNSUB 1 2 3\r\n", err: ErrMalformed},
	{name: "PUB without size", in: "PUB foo\r\n", err: ErrMalformed},
	{name: "PUB with four arguments", in: "PUB a b c 1\r\n", err: ErrMalformed},
	{name: "PUB with a size that is not a number", in: "PUB foo bar\r\n", err: ErrMalformed},
	{name: "PUB with a negative size", in: "PUB foo -1\r\n", err: ErrMalformed},
	{name: "PUB with a signed size", in: "PUB foo +1\r\n", err: ErrMalformed},
	{name: "PUB with a ten-digit size", in: "PUB foo 0000000001\r\n", err: ErrMalformed},
	{name: "HPUB with two arguments", in: "HPUB foo 1\r\n", err: ErrMalformed},
	{name: "HPUB with a bad header size", in: "HPUB foo x 1\r\n", err: ErrMalformed},
	{name: "HPUB with a header larger than the total", in: "HPUB foo 3 2\r\n", err: ErrMalformed},

	// -ERR 'Maximum Payload Violation'.
	{name: "payload one over the maximum", in: "PUB foo 129\r\n",
		err: ErrMaxPayload, errText: TextMaxPayload},
	{name: "HPUB total over the maximum", in: "HPUB foo 10 200\r\n",
		err: ErrMaxPayload, errText: TextMaxPayload},
	{name: "nine-digit size", in: "PUB foo 999999999\r\n",
		err: ErrMaxPayload, errText: TextMaxPayload},
}

// TestParser_Cases runs every case whole, split at every byte boundary,
// byte by byte and in random chunks: the outcome must be the same each time,
// and the reference parser must agree.
func TestParser_Cases(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range parserCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			want := outcome{cmds: tc.want, err: tc.err, errText: tc.errText}
			check := func(how string, chunks [][]byte) {
				t.Helper()
				got, err := parseChunks(testMCL, testMPay, chunks)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if !got.equal(want) {
					t.Fatalf("%s:\n got %v\nwant %v", how, got, want)
				}
			}
			check("whole", [][]byte{in})
			for i := 0; i <= len(in); i++ {
				check("split at "+strconv.Itoa(i), splitAt(in, i))
			}
			check("byte by byte", bytewise(in))
			for range 20 {
				check("random chunks", randomChunks(rng, in))
			}
			if ref := refParse(in, testMCL, testMPay); !ref.equal(want) {
				t.Fatalf("reference disagrees:\n got %v\nwant %v", ref, want)
			}
		})
	}
}

func randomChunks(rng *rand.Rand, in []byte) [][]byte {
	var chunks [][]byte
	for len(in) > 0 {
		n := min(1+rng.IntN(8), len(in))
		chunks = append(chunks, in[:n])
		in = in[n:]
	}
	return chunks
}

func TestParser_LongLineFailsAsSoonAsItPassesTheLimit(t *testing.T) {
	p := &Parser{MaxControlLine: testMCL}
	noCommand := func(c *Command) error {
		t.Fatalf("got a command: %v", recOf(c))
		return nil
	}
	if err := p.Parse([]byte("SUB "), noCommand); err != nil {
		t.Fatal(err)
	}
	// Up to the limit, and one CR past it, the line may still end in time.
	for i := 0; i < testMCL; i++ {
		if err := p.Parse([]byte("x"), noCommand); err != nil {
			t.Fatalf("after %d bytes: %v", i+1, err)
		}
	}
	if err := p.Parse([]byte("\r"), noCommand); err != nil {
		t.Fatalf("after the limit and a CR: %v", err)
	}
	err := p.Parse([]byte("x"), noCommand)
	if !errors.Is(err, ErrMaxControlLine) {
		t.Fatalf("after the limit, a CR and a byte: got %v, want %v", err, ErrMaxControlLine)
	}
	if r := p.retained(); r != 0 {
		t.Errorf("after the error the parser retains %d bytes", r)
	}
}

func TestParser_RetainsAtMostTheLimits(t *testing.T) {
	p := &Parser{MaxControlLine: testMCL, MaxPayload: testMPay}
	nop := func(*Command) error { return nil }
	bound := testMCL + 1 + testMPay + 2
	stream := []byte("SUB " + strings.Repeat("s", testMCL-2) + " 1\r\nPUB foo 128\r\n" + strings.Repeat("p", testMPay) + "\r\n")
	for i := range 100 {
		for _, c := range bytewise(stream) {
			if err := p.Parse(c, nop); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if r := p.retained(); r > bound {
				t.Fatalf("round %d: retains %d bytes, bound %d", i, r, bound)
			}
		}
	}
}

func TestParser_ErrorIsSticky(t *testing.T) {
	var p Parser
	nop := func(*Command) error { return nil }
	first := p.Parse([]byte("BOGUS\r\n"), nop)
	if !errors.Is(first, ErrUnknownOp) {
		t.Fatalf("got %v, want %v", first, ErrUnknownOp)
	}
	called := false
	again := p.Parse([]byte("PING\r\n"), func(*Command) error { called = true; return nil })
	if again != first || called {
		t.Fatalf("after an error Parse returned %v and called fn: %v; want the first error and no call", again, called)
	}
}

func TestParser_CallbackErrorStopsParsing(t *testing.T) {
	var p Parser
	stop := errors.New("stop")
	var seen []Op
	err := p.Parse([]byte("PING\r\nSUB foo 1\r\nPONG\r\n"), func(c *Command) error {
		seen = append(seen, c.Op)
		if c.Op == OpSub {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("got %v, want the callback's error unchanged", err)
	}
	if len(seen) != 2 {
		t.Fatalf("saw %v, want PING and SUB only", seen)
	}
	if err := p.Parse([]byte("PING\r\n"), func(*Command) error { return nil }); err != stop {
		t.Fatalf("after the callback's error, Parse returned %v", err)
	}
}

// NoHeaders ends the stream at an HPUB's control line, before its sizes,
// without an -ERR. A connection turns it off and on as its CONNECTs say,
// between commands; a PUB passes either way.
func TestParser_NoHeadersRefusesHPUB(t *testing.T) {
	nop := func(*Command) error { return nil }
	p := Parser{NoHeaders: true}
	if err := p.Parse([]byte("PUB foo 1\r\nx\r\n"), nop); err != nil {
		t.Fatalf("PUB: %v", err)
	}
	p.NoHeaders = false
	if err := p.Parse([]byte("HPUB foo 12 13\r\nNATS/1.0\r\n\r\nx\r\n"), nop); err != nil {
		t.Fatalf("HPUB with headers on: %v", err)
	}
	p.NoHeaders = true
	err := p.Parse([]byte("HPUB foo 12 99999999\r\n"), nop)
	var perr *ProtocolError
	if !errors.As(err, &perr) || !errors.Is(err, ErrNoHeaders) || perr.Text != "" {
		t.Fatalf("HPUB with headers off: got %v, want ErrNoHeaders with no -ERR text", err)
	}
}

func TestParser_ZeroValueUsesNATSServerDefaults(t *testing.T) {
	var p Parser
	nop := func(*Command) error { return nil }
	line := "PUB foo " + strconv.Itoa(DefaultMaxPayload) + "\r\n"
	if err := p.Parse([]byte(line), nop); err != nil {
		t.Fatalf("a payload of DefaultMaxPayload: %v", err)
	}
	var q Parser
	if err := q.Parse([]byte("PUB foo 1048577\r\n"), nop); !errors.Is(err, ErrMaxPayload) {
		t.Fatalf("a payload of DefaultMaxPayload+1: got %v", err)
	}
	var r Parser
	long := "CONNECT " + strings.Repeat("x", DefaultMaxControlLine) + "\r\n"
	if err := r.Parse([]byte(long), nop); err != nil {
		t.Fatalf("a line of DefaultMaxControlLine: %v", err)
	}
	var s Parser
	if err := s.Parse([]byte("CONNECT x"+long[len("CONNECT "):]), nop); !errors.Is(err, ErrMaxControlLine) {
		t.Fatalf("a line of DefaultMaxControlLine+1: got %v", err)
	}
}

func TestParser_PayloadInOneBufferIsNotCopied(t *testing.T) {
	var p Parser
	buf := []byte("PUB foo 5\r\nhello\r\n")
	err := p.Parse(buf, func(c *Command) error {
		if &c.Payload[0] != &buf[11] {
			t.Error("the payload was copied")
		}
		if cap(c.Payload) != len(c.Payload) {
			t.Errorf("payload has capacity %d beyond its length %d: an append would overwrite the buffer", cap(c.Payload), len(c.Payload))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestParser_SubAllocatesOnlyItsStrings(t *testing.T) {
	var p Parser
	nop := func(*Command) error { return nil }
	sub := []byte("SUB foo.bar  1\r\n")
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(sub, nop) }); n > 2 {
		t.Errorf("SUB allocates %v times, want at most 2 (subject and sid)", n)
	}
	ping := []byte("PING\r\n")
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(ping, nop) }); n != 0 {
		t.Errorf("PING allocates %v times, want 0", n)
	}
}

func TestProtocolError_Error(t *testing.T) {
	var p Parser
	err := p.Parse([]byte("PUB foo\r\n"), func(*Command) error { return nil })
	const want = `protocol: malformed arguments: PUB wants 2 or 3 arguments, got 1 in "foo"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Text != "" {
		t.Fatalf("got %#v, want a *ProtocolError with no -ERR text", err)
	}
}

func TestCommand_HeaderAndData(t *testing.T) {
	var p Parser
	var hdr, data string
	err := p.Parse([]byte("HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"), func(c *Command) error {
		hdr, data = string(c.Header()), string(c.Data())
		return nil
	})
	if err != nil || hdr != "NATS/1.0\r\n\r\n" || data != "hi" {
		t.Fatalf("got header %q, data %q, err %v", hdr, data, err)
	}
	c := Command{Op: OpPub, Payload: []byte("x")}
	if c.Header() != nil || string(c.Data()) != "x" {
		t.Fatalf("PUB: got header %q, data %q", c.Header(), c.Data())
	}
}

func TestOp_String(t *testing.T) {
	for op, want := range map[Op]string{OpConnect: "CONNECT", OpHPub: "HPUB", OpOK: "+OK", OpErr: "-ERR", 0: "Op(0)", 99: "Op(99)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", op, got, want)
		}
	}
}
