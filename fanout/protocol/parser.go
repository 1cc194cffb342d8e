package protocol

import (
	"bytes"
	"fmt"
	"math/bits"
	"strconv"
)

// Design note.
//
// The parser is a state machine over bytes, like nats-server's, so a frame
// may be split across reads at any byte. The verb is matched byte by byte
// (an unknown verb fails at its first wrong byte, as in nats-server); the
// rest of a control line is found with bytes.IndexByte and, when the whole
// line is in the buffer given to Parse, parsed where it lies without a copy.
// Only a line or payload that straddles two Parse calls is copied, into
// p.line or p.msg, and each of those is bounded by its limit before a byte
// is copied. That is the memory guarantee: p.line never holds more than
// MaxControlLine+1 bytes (the +1 is a CR that may turn out to end the line),
// p.msg never more than MaxPayload+2 (the payload and its CRLF).

// Op is a protocol operation a client sends.
type Op uint8

// The operations a client may send, as nats-server accepts them on a client
// connection.
const (
	// OpConnect is CONNECT: Command.Arg holds its JSON; decode it with
	// [ParseConnect].
	OpConnect Op = iota + 1
	// OpPing is PING: answer with [AppendPong].
	OpPing
	// OpPong is PONG, the answer to the server's PING.
	OpPong
	// OpSub is SUB: Subject, Queue (may be empty) and SID.
	OpSub
	// OpUnsub is UNSUB: SID and Max.
	OpUnsub
	// OpPub is PUB: Subject, Reply (may be empty) and Payload.
	OpPub
	// OpHPub is HPUB: Subject, Reply (may be empty), HeaderSize and Payload
	// (headers then body).
	OpHPub
	// OpInfo is INFO: Command.Arg holds its JSON. nats-server decodes it
	// from a client and ignores it, closing the connection silently if it is
	// not valid JSON.
	OpInfo
	// OpOK is +OK. nats-server ignores it.
	OpOK
	// OpErr is -ERR: Command.Arg holds the text as sent, quotes included.
	// nats-server logs it and closes the connection.
	OpErr
)

// String returns the verb as it appears on the wire, for example "SUB".
func (o Op) String() string {
	if o >= OpConnect && o <= OpErr {
		return verbs[o-OpConnect].name
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// A Command is one operation received from a client.
//
// The strings are the client's bytes converted, and may be kept. The byte
// slices (Payload, Arg) point into the buffer given to Parse or into the
// Parser, and are valid only until the callback returns: copy what must
// outlive it. Subject, Queue, SID and Reply are never empty when their op
// has them (Queue and Reply may be absent) and never contain a space, tab,
// CR or LF, so they can be echoed into a MSG line as they are.
type Command struct {
	Op Op

	// Subject is the subject of a SUB (a pattern, not validated here), PUB
	// or HPUB.
	Subject string
	// Queue is the queue group of a SUB, or "".
	Queue string
	// SID is the subscription id of a SUB or UNSUB. nats-server treats it
	// as an opaque token, and so does this package; nats.go sends decimal
	// numbers and parses the sid of each MSG as one.
	SID string
	// Max is the message count after which an UNSUB takes effect, or 0 to
	// unsubscribe now. As in nats-server, a count that is not a positive
	// decimal number means now.
	Max int
	// Reply is the reply subject of a PUB or HPUB, or "".
	Reply string
	// HeaderSize is how many leading bytes of Payload are the headers of an
	// HPUB; 0 for a PUB.
	HeaderSize int
	// Payload is the payload of a PUB, or the headers and payload of an
	// HPUB, without the CRLF that ends it. Valid until the callback returns.
	Payload []byte
	// Arg is the argument of a CONNECT or INFO (JSON) or -ERR (text), from
	// its first non-blank byte to the end of the line, CRLF excluded. Valid
	// until the callback returns.
	Arg []byte
}

// Header returns the headers of an HPUB (the first HeaderSize bytes of
// Payload), or nil for any other command.
func (c *Command) Header() []byte {
	if c.HeaderSize == 0 {
		return nil
	}
	return c.Payload[:c.HeaderSize:c.HeaderSize]
}

// Data returns the payload of a PUB or HPUB without the headers.
func (c *Command) Data() []byte { return c.Payload[c.HeaderSize:] }

// The defaults of nats-server's max_control_line and max_payload.
const (
	DefaultMaxControlLine = 4096
	DefaultMaxPayload     = 1 << 20
)

// A Parser parses the byte stream a client sends into Commands. Its zero
// value is ready to use with the default limits; set the limits before the
// first call to Parse. A Parser must not be used from two goroutines at
// once: it belongs to the goroutine that reads the connection.
type Parser struct {
	// MaxControlLine is the longest control line accepted, counted as
	// nats-server counts it: from the first non-blank byte after the verb
	// to the end of the line, CRLF excluded. 0 or less means
	// DefaultMaxControlLine.
	MaxControlLine int
	// MaxPayload is the largest PUB or HPUB payload accepted, headers
	// included. It should match the max_payload the server announces in
	// its INFO. 0 or less means DefaultMaxPayload.
	MaxPayload int
	// NoHeaders refuses HPUB, as nats-server refuses it from a client that
	// has not said in its CONNECT that it handles headers: the stream ends
	// at the HPUB's control line, before its sizes are looked at, and
	// without an -ERR.
	NoHeaders bool

	state parseState
	vlen  int    // bytes of the verb matched so far
	vmask uint16 // verbs still possible after vlen bytes
	verb  int    // index in verbs of the verb being parsed
	line  []byte // a control line that arrived in pieces, so far
	size  int    // declared payload size of the PUB or HPUB being parsed
	msg   []byte // a payload (and CRLF) that arrived in pieces, so far
	cmd   Command
	err   error // sticky: the error that ended the stream
}

type parseState uint8

const (
	stateVerb    parseState = iota // matching a verb
	stateBlank                     // a space or tab must follow the verb
	stateSkip                      // skipping blanks before the argument
	stateArg                       // reading the argument up to LF
	stateIgnore                    // ignoring the rest of a PING, PONG or +OK line
	statePayload                   // reading a payload and its CRLF
)

// argRule says what follows a verb.
type argRule uint8

const (
	ruleNone  argRule = iota // nothing: the rest of the line is ignored
	ruleBlank                // a space or tab, then the arguments
	ruleJSON                 // optional blanks, then the argument
)

// verbs are the operations a client may send, in Op order. No verb is a
// prefix of another, so a verb is complete as soon as one candidate is.
var verbs = [...]struct {
	name string
	rule argRule
}{
	{"CONNECT", ruleJSON},
	{"PING", ruleNone},
	{"PONG", ruleNone},
	{"SUB", ruleBlank},
	{"UNSUB", ruleBlank},
	{"PUB", ruleBlank},
	{"HPUB", ruleBlank},
	{"INFO", ruleJSON},
	{"+OK", ruleNone},
	{"-ERR", ruleBlank},
}

const (
	allVerbs   = 1<<len(verbs) - 1
	maxVerbLen = len("CONNECT")
)

// verbAt[i][c] is the set of verbs (bit k for verbs[k]) whose byte i is c,
// in either case; verbLen[n] is the set of verbs n bytes long. With them a
// verb is matched in a few instructions a byte.
var verbAt, verbLen = verbTables()

func verbTables() (at [maxVerbLen][256]uint16, length [maxVerbLen + 1]uint16) {
	for k, v := range verbs {
		for i := 0; i < len(v.name); i++ {
			c := v.name[i]
			at[i][c] |= 1 << k
			if 'A' <= c && c <= 'Z' {
				at[i][c+'a'-'A'] |= 1 << k
			}
		}
		length[len(v.name)] |= 1 << k
	}
	return at, length
}

// keepPayload is the largest payload buffer kept for the next split
// payload; a larger one is dropped once its command is handled.
const keepPayload = 64 << 10

// Parse consumes buf and calls fn, in order, for each command completed by
// buf; a command split across calls is completed by a later call. Parse
// does not keep buf: what it needs of an incomplete command it copies.
//
// It returns the first error: a [*ProtocolError] for input nats-server
// would refuse, or the error fn returned, unchanged. Either ends the
// stream: the connection must be closed, and from then on Parse returns
// the same error without reading its input. Commands before the error in
// the same buf have been handed to fn. fn must not call Parse.
func (p *Parser) Parse(buf []byte, fn func(*Command) error) error {
	if p.err != nil {
		return p.err
	}
	for i := 0; i < len(buf); {
		switch p.state {
		case stateVerb:
			if err := p.matchVerb(buf[i]); err != nil {
				return p.fail(err)
			}
			i++

		case stateBlank:
			if b := buf[i]; b != ' ' && b != '\t' {
				return p.fail(&ProtocolError{Err: ErrUnknownOp, Text: TextUnknownOp,
					Detail: fmt.Sprintf("%q after %s, want a space or tab", b, verbs[p.verb].name)})
			}
			i++
			p.state = stateSkip

		case stateSkip:
			for i < len(buf) && (buf[i] == ' ' || buf[i] == '\t') {
				i++
			}
			if i < len(buf) {
				p.state = stateArg
			}

		case stateArg:
			j := bytes.IndexByte(buf[i:], '\n')
			if j < 0 {
				if err := p.keepLine(buf[i:]); err != nil {
					return p.fail(err)
				}
				i = len(buf)
				continue
			}
			line := buf[i : i+j]
			i += j + 1
			if len(p.line) > 0 {
				if err := p.keepLine(line); err != nil {
					return p.fail(err)
				}
				line = p.line
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > p.maxControlLine() {
				return p.fail(p.errMaxControlLine(len(line), line))
			}
			err := p.handleLine(line, fn)
			p.line = p.line[:0]
			if err != nil {
				return p.fail(err)
			}

		case stateIgnore:
			j := bytes.IndexByte(buf[i:], '\n')
			if j < 0 {
				i = len(buf)
				continue
			}
			i += j + 1
			p.cmd = Command{Op: Op(p.verb) + OpConnect}
			if err := p.emit(fn); err != nil {
				return p.fail(err)
			}

		case statePayload:
			total := p.size + 2
			if len(p.msg) == 0 && len(buf)-i >= total {
				// The whole payload is here: hand it over in place.
				data := buf[i : i+total]
				i += total
				if err := p.checkPayloadEnd(data, 0); err != nil {
					return p.fail(err)
				}
				p.cmd.Payload = data[:p.size:p.size]
				if err := p.emit(fn); err != nil {
					return p.fail(err)
				}
				continue
			}
			if cap(p.msg) < total {
				p.msg = make([]byte, 0, total)
			}
			start := len(p.msg)
			n := min(total-start, len(buf)-i)
			p.msg = append(p.msg, buf[i:i+n]...)
			i += n
			if err := p.checkPayloadEnd(p.msg, start); err != nil {
				return p.fail(err)
			}
			if len(p.msg) < total {
				continue
			}
			p.cmd.Payload = p.msg[:p.size:p.size]
			err := p.emit(fn)
			if cap(p.msg) > keepPayload {
				p.msg = nil
			} else {
				p.msg = p.msg[:0]
			}
			if err != nil {
				return p.fail(err)
			}
		}
	}
	return nil
}

// matchVerb advances the verb match by one byte, case-insensitively.
func (p *Parser) matchVerb(b byte) error {
	mask := p.vmask
	if p.vlen == 0 {
		mask = allVerbs
	}
	m := mask & verbAt[p.vlen][b]
	if m == 0 {
		detail := fmt.Sprintf("%q begins no client operation", b)
		if p.vlen > 0 {
			detail = fmt.Sprintf("%q after %q", b, verbs[bits.TrailingZeros16(mask)].name[:p.vlen])
		}
		return &ProtocolError{Err: ErrUnknownOp, Text: TextUnknownOp, Detail: detail}
	}
	p.vlen++
	p.vmask = m
	done := m & verbLen[p.vlen]
	if done == 0 {
		return nil
	}
	// Complete; being complete, it is the only candidate left.
	k := bits.TrailingZeros16(done)
	p.verb, p.vlen = k, 0
	switch verbs[k].rule {
	case ruleNone:
		p.state = stateIgnore
	case ruleBlank:
		p.state = stateBlank
	case ruleJSON:
		p.state = stateSkip
	}
	return nil
}

// keepLine appends part of a control line to p.line, after checking that
// the line cannot fit the limit any more. One byte over the limit is let in
// if it is a CR, which may be the start of the CRLF that ends the line.
func (p *Parser) keepLine(chunk []byte) error {
	if len(chunk) == 0 {
		return nil
	}
	limit := p.maxControlLine()
	n := len(p.line) + len(chunk)
	if n > limit+1 || (n == limit+1 && chunk[len(chunk)-1] != '\r') {
		head := p.line
		if len(head) == 0 {
			head = chunk
		}
		return p.errMaxControlLine(n, head)
	}
	if n > cap(p.line) {
		grown := make([]byte, len(p.line), min(max(2*cap(p.line), n, 256), limit+1))
		copy(grown, p.line)
		p.line = grown
	}
	p.line = append(p.line, chunk...)
	return nil
}

// errMaxControlLine reports a line of at least n bytes that starts with head.
func (p *Parser) errMaxControlLine(n int, head []byte) error {
	return &ProtocolError{Err: ErrMaxControlLine, Text: TextMaxControlLine,
		Detail: fmt.Sprintf("%s line of %d bytes or more, limit %d: %s",
			verbs[p.verb].name, n, p.maxControlLine(), snippet(head))}
}

// checkPayloadEnd checks the CRLF after a payload, in data[from:], where
// data holds the payload (p.size bytes) and what follows it, so far.
func (p *Parser) checkPayloadEnd(data []byte, from int) error {
	for k, want := range [2]byte{'\r', '\n'} {
		at := p.size + k
		if at >= from && at < len(data) && data[at] != want {
			return &ProtocolError{Err: ErrUnknownOp, Text: TextUnknownOp,
				Detail: fmt.Sprintf("%s payload of %d bytes followed by %q, want \"\\r\\n\"",
					verbs[p.verb].name, p.size, data[p.size:min(len(data), p.size+2)])}
		}
	}
	return nil
}

// handleLine handles the argument of the verb p.verb, CRLF stripped.
func (p *Parser) handleLine(line []byte, fn func(*Command) error) error {
	op := Op(p.verb) + OpConnect
	var a [4][]byte // room for the most arguments, on the stack
	switch op {
	case OpConnect, OpInfo, OpErr:
		p.cmd = Command{Op: op, Arg: line}
		return p.emit(fn)

	case OpSub:
		args, ok := splitArgs(line, a[:0:3])
		if !ok || len(args) < 2 {
			return p.errArgCount(line, "2 or 3", args, ok)
		}
		p.cmd = Command{Op: op, Subject: string(args[0]), SID: string(args[len(args)-1])}
		if len(args) == 3 {
			p.cmd.Queue = string(args[1])
		}
		return p.emit(fn)

	case OpUnsub:
		args, ok := splitArgs(line, a[:0:2])
		if !ok || len(args) < 1 {
			return p.errArgCount(line, "1 or 2", args, ok)
		}
		p.cmd = Command{Op: op, SID: string(args[0])}
		if len(args) == 2 {
			p.cmd.Max = max(parseSize(args[1]), 0)
		}
		return p.emit(fn)

	case OpPub:
		args, ok := splitArgs(line, a[:0:3])
		if !ok || len(args) < 2 {
			return p.errArgCount(line, "2 or 3", args, ok)
		}
		p.cmd = Command{Op: op, Subject: string(args[0])}
		if len(args) == 3 {
			p.cmd.Reply = string(args[1])
		}
		return p.startPayload(line, -1, args[len(args)-1])

	case OpHPub:
		if p.NoHeaders {
			return &ProtocolError{Err: ErrNoHeaders,
				Detail: fmt.Sprintf("%s from a client that did not ask for headers: %s", verbs[p.verb].name, snippet(line))}
		}
		args, ok := splitArgs(line, a[:0:4])
		if !ok || len(args) < 3 {
			return p.errArgCount(line, "3 or 4", args, ok)
		}
		p.cmd = Command{Op: op, Subject: string(args[0])}
		if len(args) == 4 {
			p.cmd.Reply = string(args[1])
		}
		return p.startPayload(line, parseSize(args[len(args)-2]), args[len(args)-1])
	}
	panic("protocol: no argument handling for " + op.String())
}

// startPayload checks the sizes of a PUB (hdr < 0) or HPUB in the order
// nats-server does and moves on to reading the payload.
func (p *Parser) startPayload(line []byte, hdr int, sizeArg []byte) error {
	size := parseSize(sizeArg)
	name := verbs[p.verb].name
	switch {
	case p.cmd.Op == OpHPub && hdr < 0:
		return &ProtocolError{Err: ErrMalformed, Detail: fmt.Sprintf("%s bad or missing header size in %s", name, snippet(line))}
	case size < 0:
		return &ProtocolError{Err: ErrMalformed, Detail: fmt.Sprintf("%s bad or missing size in %s", name, snippet(line))}
	case hdr > size:
		return &ProtocolError{Err: ErrMalformed, Detail: fmt.Sprintf("%s header size larger than total size in %s", name, snippet(line))}
	case size > p.maxPayload():
		return &ProtocolError{Err: ErrMaxPayload, Text: TextMaxPayload,
			Detail: fmt.Sprintf("%s of %d bytes, limit %d", name, size, p.maxPayload())}
	}
	p.cmd.HeaderSize = max(hdr, 0)
	p.size = size
	p.state = statePayload
	return nil
}

func (p *Parser) errArgCount(line []byte, want string, args [][]byte, ok bool) error {
	got := strconv.Itoa(len(args))
	if !ok {
		got = "more"
	}
	return &ProtocolError{Err: ErrMalformed,
		Detail: fmt.Sprintf("%s wants %s arguments, got %s in %s", verbs[p.verb].name, want, got, snippet(line))}
}

// emit hands p.cmd to fn and readies the parser for the next verb. The
// slices are cleared afterwards so that the Parser does not keep the
// caller's buffer alive.
func (p *Parser) emit(fn func(*Command) error) error {
	p.state, p.vlen = stateVerb, 0
	err := fn(&p.cmd)
	p.cmd.Payload, p.cmd.Arg = nil, nil
	return err
}

func (p *Parser) fail(err error) error {
	p.err = err
	p.line, p.msg, p.cmd = nil, nil, Command{}
	return err
}

func (p *Parser) maxControlLine() int {
	if p.MaxControlLine > 0 {
		return p.MaxControlLine
	}
	return DefaultMaxControlLine
}

func (p *Parser) maxPayload() int {
	if p.MaxPayload > 0 {
		return p.MaxPayload
	}
	return DefaultMaxPayload
}

// retained is how many bytes of partial input the parser holds on to, for
// tests of the memory bound.
func (p *Parser) retained() int { return cap(p.line) + cap(p.msg) }

// splitArgs splits line at runs of spaces, tabs and CRs into args, which
// must be an empty slice with the capacity of the most arguments allowed.
// It reports false if there are more.
//
// nats-server splits SUB and UNSUB lines at CR and LF too, but PUB lines only
// at spaces and tabs; splitting everything the same way guarantees that no
// argument contains a byte that would break a MSG line it is echoed into.
func splitArgs(line []byte, args [][]byte) ([][]byte, bool) {
	args = args[:0]
	start := -1
	for i, b := range line {
		if b == ' ' || b == '\t' || b == '\r' {
			if start >= 0 {
				if len(args) == cap(args) {
					return args, false
				}
				args = append(args, line[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if len(args) == cap(args) {
			return args, false
		}
		args = append(args, line[start:])
	}
	return args, true
}

// parseSize parses a size as nats-server does (server/util.go, parseSize):
// one to nine decimal digits, else -1.
func parseSize(d []byte) int {
	if len(d) == 0 || len(d) > 9 {
		return -1
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
