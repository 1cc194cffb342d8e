package protocol

import (
	"bytes"
	"strings"
)

// refParse is a reference for Parser: it parses a whole stream at once,
// written for obviousness rather than speed and sharing no code with the
// Parser. It stops without error where the stream ends in the middle of a
// command, unless what has arrived already breaks a rule.
func refParse(in []byte, mcl, mpay int) outcome {
	var out outcome
	fail := func(err error, text string) outcome {
		out.err, out.errText = err, text
		return out
	}
	isBlank := func(b byte) bool { return b == ' ' || b == '\t' }
	names := []string{"CONNECT", "PING", "PONG", "SUB", "UNSUB", "PUB", "HPUB", "INFO", "+OK", "-ERR"}

	for pos := 0; pos < len(in); {
		// The verb, matched case-insensitively one byte at a time.
		verb := ""
		for n := 1; verb == ""; n++ {
			if pos+n > len(in) {
				return out // the stream ends inside a verb
			}
			prefix := asciiUpper(in[pos : pos+n])
			possible := false
			for _, name := range names {
				if name == prefix {
					verb = name
				}
				if strings.HasPrefix(name, prefix) {
					possible = true
				}
			}
			if !possible {
				return fail(ErrUnknownOp, TextUnknownOp)
			}
			if verb != "" {
				pos += n
			}
		}

		if verb == "PING" || verb == "PONG" || verb == "+OK" {
			nl := bytes.IndexByte(in[pos:], '\n')
			if nl < 0 {
				return out
			}
			pos += nl + 1
			out.cmds = append(out.cmds, rec{Op: opNamed(verb)})
			continue
		}

		if verb != "CONNECT" && verb != "INFO" {
			if pos == len(in) {
				return out
			}
			if !isBlank(in[pos]) {
				return fail(ErrUnknownOp, TextUnknownOp)
			}
			pos++
		}
		for pos < len(in) && isBlank(in[pos]) {
			pos++
		}
		if pos == len(in) {
			return out
		}

		// The argument, up to LF, CR before it dropped.
		nl := bytes.IndexByte(in[pos:], '\n')
		if nl < 0 {
			rest := in[pos:]
			if len(rest) > mcl+1 || len(rest) == mcl+1 && rest[mcl] != '\r' {
				return fail(ErrMaxControlLine, TextMaxControlLine)
			}
			return out
		}
		line := string(bytes.TrimSuffix(in[pos:pos+nl], []byte("\r")))
		pos += nl + 1
		if len(line) > mcl {
			return fail(ErrMaxControlLine, TextMaxControlLine)
		}
		args := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' })
		c := rec{Op: opNamed(verb)}

		switch verb {
		case "CONNECT", "INFO", "-ERR":
			c.Arg = line
		case "SUB":
			if len(args) != 2 && len(args) != 3 {
				return fail(ErrMalformed, "")
			}
			c.Subject, c.SID = args[0], args[len(args)-1]
			if len(args) == 3 {
				c.Queue = args[1]
			}
		case "UNSUB":
			if len(args) != 1 && len(args) != 2 {
				return fail(ErrMalformed, "")
			}
			c.SID = args[0]
			if len(args) == 2 {
				c.Max = max(refSize(args[1]), 0)
			}
		case "PUB", "HPUB":
			n := 2
			if verb == "HPUB" {
				n = 3
			}
			if len(args) != n && len(args) != n+1 {
				return fail(ErrMalformed, "")
			}
			c.Subject = args[0]
			if len(args) == n+1 {
				c.Reply = args[1]
			}
			size := refSize(args[len(args)-1])
			hdr := 0
			if verb == "HPUB" {
				hdr = refSize(args[len(args)-2])
				if hdr < 0 {
					return fail(ErrMalformed, "")
				}
			}
			if size < 0 || hdr > size {
				return fail(ErrMalformed, "")
			}
			if size > mpay {
				return fail(ErrMaxPayload, TextMaxPayload)
			}
			c.HeaderSize = hdr
			rest := in[pos:]
			if len(rest) > size && rest[size] != '\r' || len(rest) > size+1 && rest[size+1] != '\n' {
				return fail(ErrUnknownOp, TextUnknownOp)
			}
			if len(rest) < size+2 {
				return out
			}
			c.Payload = string(rest[:size])
			pos += size + 2
		}
		out.cmds = append(out.cmds, c)
	}
	return out
}

// asciiUpper upper-cases ASCII letters only, as the protocol does.
func asciiUpper(b []byte) string {
	u := []byte(string(b))
	for i, c := range u {
		if 'a' <= c && c <= 'z' {
			u[i] = c - 'a' + 'A'
		}
	}
	return string(u)
}

func opNamed(name string) Op {
	for o := OpConnect; o <= OpErr; o++ {
		if o.String() == name {
			return o
		}
	}
	panic("no op " + name)
}

// refSize is nats-server's parseSize, written differently.
func refSize(s string) int {
	if len(s) < 1 || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return -1
	}
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
