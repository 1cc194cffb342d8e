package protocol_test

import (
	"errors"
	"fmt"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// A connection's read loop feeds what it reads to its Parser and answers
// each command by appending frames to its write buffer; on a protocol error
// it sends the -ERR line nats-server would send, if any, and closes.
func Example() {
	var p protocol.Parser
	var out []byte // the connection's write buffer

	// What a nats.go client sends after the INFO, arriving in two reads
	// split in the middle of a SUB.
	reads := [][]byte{
		[]byte("CONNECT {\"verbose\":false,\"lang\":\"go\",\"version\":\"1.55.0\",\"protocol\":1,\"headers\":true}\r\nPING\r\nSUB orders.>  1\r\nSU"),
		[]byte("B secret.> 2\r\nBOGUS\r\n"),
	}
	handle := func(c *protocol.Command) error {
		switch c.Op {
		case protocol.OpConnect:
			ci, err := protocol.ParseConnect(c.Arg)
			if err == nil {
				err = ci.Validate()
			}
			if err != nil {
				return err
			}
			fmt.Println("client:", ci.Lang, ci.Version)
		case protocol.OpPing:
			out = protocol.AppendPong(out)
		case protocol.OpSub:
			if c.Subject == "secret.>" {
				out = protocol.AppendErr(out, protocol.SubscribeViolation(c.Subject, c.Queue))
				break
			}
			fmt.Printf("subscribe %s as %s\n", c.Subject, c.SID)
			out = protocol.AppendMsg(out, "orders.new", c.SID, "", []byte("hi"))
		}
		return nil
	}
	for _, r := range reads {
		if err := p.Parse(r, handle); err != nil {
			var pe *protocol.ProtocolError
			if errors.As(err, &pe) && pe.Text != "" {
				out = protocol.AppendErr(out, pe.Text)
			}
			fmt.Println("close:", err)
			break
		}
	}
	fmt.Printf("%q\n", out)
	// Output:
	// client: go 1.55.0
	// subscribe orders.> as 1
	// close: protocol: unknown protocol operation: 'B' begins no client operation
	// "PONG\r\nMSG orders.new 1 2\r\nhi\r\n-ERR 'Permissions Violation for Subscription to \"secret.>\"'\r\n-ERR 'Unknown Protocol Operation'\r\n"
}

func ExampleAppendMsg() {
	buf := make([]byte, 0, 512)
	buf = protocol.AppendMsg(buf, "orders.new", "1", "", []byte("hello"))
	buf = protocol.AppendMsg(buf, "orders.new", "2", "_INBOX.42", []byte("hello"))
	buf = protocol.AppendHMsg(buf, "orders.new", "3", "", []byte("NATS/1.0\r\nK: v\r\n\r\n"), []byte("hello"))
	fmt.Printf("%q\n", buf)
	// Output:
	// "MSG orders.new 1 5\r\nhello\r\nMSG orders.new 2 _INBOX.42 5\r\nhello\r\nHMSG orders.new 3 18 23\r\nNATS/1.0\r\nK: v\r\n\r\nhello\r\n"
}
