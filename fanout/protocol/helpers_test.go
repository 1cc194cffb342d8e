package protocol

import (
	"errors"
	"fmt"
)

// rec is a Command copied out of the callback, comparable with ==.
type rec struct {
	Op         Op
	Subject    string
	Queue      string
	SID        string
	Max        int
	Reply      string
	HeaderSize int
	Payload    string
	Arg        string
}

func (r rec) String() string {
	return fmt.Sprintf("%v{sub=%q q=%q sid=%q max=%d reply=%q hdr=%d payload=%q arg=%q}",
		r.Op, r.Subject, r.Queue, r.SID, r.Max, r.Reply, r.HeaderSize, r.Payload, r.Arg)
}

func recOf(c *Command) rec {
	return rec{c.Op, c.Subject, c.Queue, c.SID, c.Max, c.Reply, c.HeaderSize, string(c.Payload), string(c.Arg)}
}

// outcome is what a parse of a stream gives: the commands, then the error
// (as sentinel and -ERR text, which is all a caller may branch on).
type outcome struct {
	cmds    []rec
	err     error // a sentinel, or nil
	errText string
}

func (o outcome) String() string {
	return fmt.Sprintf("%d commands %v, err %v %q", len(o.cmds), o.cmds, o.err, o.errText)
}

func (o outcome) equal(x outcome) bool {
	if len(o.cmds) != len(x.cmds) || o.err != x.err || o.errText != x.errText {
		return false
	}
	for i := range o.cmds {
		if o.cmds[i] != x.cmds[i] {
			return false
		}
	}
	return true
}

// sentinel returns the -ERR text and the package sentinel err wraps, or
// err itself when it is not a *ProtocolError.
func sentinel(err error) (text string, sentinel error) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Text, pe.Err
	}
	return "", err
}

// parseChunks feeds chunks to a new Parser with the given limits, one Parse
// call each, and checks after every call that the parser retains no more
// than its limits allow.
func parseChunks(mcl, mpay int, chunks [][]byte) (outcome, error) {
	p := &Parser{MaxControlLine: mcl, MaxPayload: mpay}
	var out outcome
	collect := func(c *Command) error {
		out.cmds = append(out.cmds, recOf(c))
		return nil
	}
	bound := p.maxControlLine() + 1 + p.maxPayload() + 2
	for _, c := range chunks {
		err := p.Parse(c, collect)
		if r := p.retained(); r > bound {
			return out, fmt.Errorf("parser retains %d bytes, bound %d", r, bound)
		}
		if err != nil {
			out.errText, out.err = sentinel(err)
			break
		}
	}
	return out, nil
}

// splitAt returns in cut at the given offsets, which must be ascending.
func splitAt(in []byte, cuts ...int) [][]byte {
	var chunks [][]byte
	prev := 0
	for _, c := range cuts {
		chunks = append(chunks, in[prev:c])
		prev = c
	}
	return append(chunks, in[prev:])
}

// bytewise returns in cut into one-byte chunks.
func bytewise(in []byte) [][]byte {
	chunks := make([][]byte, len(in))
	for i := range in {
		chunks[i] = in[i : i+1]
	}
	return chunks
}
