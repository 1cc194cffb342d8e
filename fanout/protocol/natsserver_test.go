package protocol

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startNATSServer runs a real nats-server in the test process, with the
// limits of the parser tests, and returns its address.
func startNATSServer(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		MaxControlLine: testMCL, MaxPayload: testMPay,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.Addr().String()
}

// serverConnect opens every conversation with nats-server, so that it
// accepts HPUB and stays quiet (no +OK, no pedantic checks).
const serverConnect = `CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}` + "\r\n"

// TestParser_AgreesWithNATSServer sends each complete parser case to a real
// nats-server and checks that it answers as the parser's outcome says a
// server must: the same -ERR text (or none) and a close for an error, no
// -ERR and a PONG for each PING otherwise. What a connection does with a
// command is played by expectation: CONNECT and INFO are decoded, -ERR from
// the client closes the connection.
func TestParser_AgreesWithNATSServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server")
	}
	addr := startNATSServer(t)
	for _, tc := range parserCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.natsServer != "" {
				t.Skip("deliberately unlike nats-server: " + tc.natsServer)
			}
			p := &Parser{MaxControlLine: testMCL, MaxPayload: testMPay}
			pings := 0
			// closeErr is what the connection closes on, if anything.
			closeErr := p.Parse([]byte(tc.in), func(c *Command) error {
				switch c.Op {
				case OpPing:
					pings++
				case OpConnect:
					ci, err := ParseConnect(c.Arg)
					if err == nil {
						err = ci.Validate()
					}
					return err
				case OpInfo:
					// nats-server decodes a client's INFO and ignores it.
					if err := json.Unmarshal(c.Arg, &server.Info{}); err != nil {
						return &ProtocolError{Err: ErrMalformed}
					}
				case OpErr:
					return &ProtocolError{Err: ErrUnknownOp} // closed, no -ERR back
				}
				return nil
			})
			if closeErr == nil && (p.state != stateVerb || p.vlen != 0) {
				t.Skip("incomplete stream: nothing to compare")
			}
			wantText, _ := sentinel(closeErr)

			in := serverConnect + tc.in
			if closeErr == nil {
				in += "PING\r\n"
				pings++
			}
			errs, pongs, closed := converse(t, addr, in, pings, closeErr != nil)
			switch {
			case closeErr != nil && wantText != "":
				if !closed || len(errs) != 1 || errs[0] != "'"+wantText+"'" {
					t.Fatalf("nats-server sent -ERR %q and closed: %v; the parser says -ERR '%s' and close (%v)", errs, closed, wantText, closeErr)
				}
			case closeErr != nil:
				if !closed || len(errs) != 0 {
					t.Fatalf("nats-server sent -ERR %q and closed: %v; the parser says close without -ERR (%v)", errs, closed, closeErr)
				}
			default:
				if closed || len(errs) != 0 || pongs != pings {
					t.Fatalf("nats-server sent -ERR %q, %d PONGs and closed: %v; the parser says %d PONGs and no error", errs, pongs, closed, pings)
				}
			}
		})
	}
}

// converse sends in to nats-server and reads its answer: the -ERR lines,
// the number of PONGs, and whether it closed the connection. It reads
// until the server closes if untilClose, else until it has the PONGs.
func converse(t *testing.T, addr, in string, pings int, untilClose bool) (errs []string, pongs int, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(info, "INFO {") || !strings.HasSuffix(info, "} \r\n") {
		t.Fatalf("nats-server's first line: %q, %v", info, err)
	}
	if _, err := io.WriteString(conn, in); err != nil {
		t.Fatal(err)
	}
	for untilClose || pongs < pings {
		line, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("nats-server neither answered nor closed (so far -ERR %q, %d PONGs)", errs, pongs)
			}
			return errs, pongs, true
		}
		switch line = strings.TrimSuffix(line, "\r\n"); {
		case line == "PONG":
			pongs++
		case strings.HasPrefix(line, "-ERR "):
			errs = append(errs, strings.TrimPrefix(line, "-ERR "))
		case line == "+OK", line == "PING", strings.HasPrefix(line, "INFO "):
			// nats-server answers a protocol-1 client's first PING with an
			// INFO that has connect_info true, and may send PINGs.
		default:
			t.Fatalf("nats-server sent %q", line)
		}
	}
	return errs, pongs, false
}
