package protocol

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// codecServer is the smallest server the codec makes: it accepts
// connections, sends INFO, parses what the client sends and lets a handler
// answer each command. It stands in for natsfan's socket server so that a
// real nats.go client can check the codec from the other side.
type codecServer struct {
	t      *testing.T
	ln     net.Listener
	handle func(c *Command, out []byte) []byte
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
	raw   [][]byte // per connection, what the client sent
	cmds  [][]rec  // per connection, what the parser made of it
	perrs []error  // per connection, how parsing ended
}

func startCodecServer(t *testing.T, handle func(c *Command, out []byte) []byte) *codecServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &codecServer{t: t, ln: ln, handle: handle}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *codecServer) url() string { return "nats://" + s.ln.Addr().String() }

func (s *codecServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		id := len(s.raw)
		s.conns = append(s.conns, conn)
		s.raw, s.cmds, s.perrs = append(s.raw, nil), append(s.cmds, nil), append(s.perrs, nil)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(id, conn)
	}
}

func (s *codecServer) serve(id int, conn net.Conn) {
	defer s.wg.Done()
	defer conn.Close()
	addr := conn.LocalAddr().(*net.TCPAddr)
	out := AppendInfo(nil, &ServerInfo{
		ID: "NATSFANTEST", Name: "natsfan-test", Version: "2.15.2", Proto: 1, GoVersion: runtime.Version(),
		Host: addr.IP.String(), Port: addr.Port, Headers: true, MaxPayload: 1024, ClientID: uint64(id + 1),
	})
	if _, err := conn.Write(out); err != nil {
		return
	}
	var p Parser
	buf := make([]byte, 512) // small, so that frames straddle reads
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		out = out[:0]
		perr := p.Parse(buf[:n], func(c *Command) error {
			s.mu.Lock()
			s.cmds[id] = append(s.cmds[id], recOf(c))
			s.mu.Unlock()
			out = s.handle(c, out)
			return nil
		})
		s.mu.Lock()
		s.raw[id] = append(s.raw[id], buf[:n]...)
		s.perrs[id] = perr
		s.mu.Unlock()
		if len(out) > 0 {
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
		if perr != nil {
			return
		}
	}
}

// connection returns what the client sent on connection id and what the
// parser made of it, once the server has finished with it.
func (s *codecServer) connection(id int) (raw []byte, cmds []rec, perr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw[id], s.cmds[id], s.perrs[id]
}

// TestCodec_WithNATSGo runs a nats.go client against a server made of the
// codec: the client must connect, receive MSG and HMSG, see permission
// errors on the subscription and the publish they concern, and the parser
// must read nats.go's bytes exactly.
func TestCodec_WithNATSGo(t *testing.T) {
	hdr := []byte("NATS/1.0\r\nA: b\r\n\r\n")
	srv := startCodecServer(t, func(c *Command, out []byte) []byte {
		switch c.Op {
		case OpPing:
			return AppendPong(out)
		case OpSub:
			if strings.HasPrefix(c.Subject, "forbidden.") {
				return AppendErr(out, SubscribeViolation(c.Subject, c.Queue))
			}
			out = AppendMsg(out, c.Subject, c.SID, "reply.to", []byte("hello"))
			return AppendHMsg(out, c.Subject, c.SID, "", hdr, []byte("world\r\n"))
		case OpPub, OpHPub:
			return AppendErr(out, PublishViolation(c.Subject))
		}
		return out
	})

	asyncErrs := make(chan error, 10)
	nc, err := nats.Connect(srv.url(), nats.MaxReconnects(0), nats.Name("codec-test"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErrs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	foo, err := nc.SubscribeSync("foo")
	if err != nil {
		t.Fatal(err)
	}
	bar, err := nc.QueueSubscribeSync("bar", "workers")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*nats.Subscription{foo, bar} {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: first message: %v", sub.Subject, err)
		}
		if m.Subject != sub.Subject || m.Reply != "reply.to" || string(m.Data) != "hello" || m.Header != nil {
			t.Fatalf("%s: got MSG %q reply %q data %q header %v", sub.Subject, m.Subject, m.Reply, m.Data, m.Header)
		}
		m, err = sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: second message: %v", sub.Subject, err)
		}
		if m.Subject != sub.Subject || m.Reply != "" || string(m.Data) != "world\r\n" || m.Header.Get("A") != "b" {
			t.Fatalf("%s: got HMSG %q reply %q data %q header %v", sub.Subject, m.Subject, m.Reply, m.Data, m.Header)
		}
	}

	if _, err := nc.SubscribeSync("forbidden.>"); err != nil {
		t.Fatal(err)
	}
	wantAsyncErr(t, asyncErrs, `Permissions Violation for Subscription to "forbidden.>"`)
	if err := nc.Publish("orders.new", []byte("data")); err != nil {
		t.Fatal(err)
	}
	wantAsyncErr(t, asyncErrs, `Permissions Violation for Publish to "orders.new"`)
	if err := nc.PublishMsg(&nats.Msg{Subject: "orders.hdr", Header: nats.Header{"K": {"v"}}, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	wantAsyncErr(t, asyncErrs, `Permissions Violation for Publish to "orders.hdr"`)

	if err := foo.AutoUnsubscribe(10); err != nil {
		t.Fatal(err)
	}
	if err := foo.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if !nc.IsConnected() {
		t.Fatalf("nats.go is not connected any more: %v", nc.LastError())
	}
	nc.Close()
	srv.ln.Close()
	srv.wg.Wait()

	raw, cmds, perr := srv.connection(0)
	if perr != nil {
		t.Fatalf("parsing what nats.go sent: %v", perr)
	}
	// nats.go's quirks, byte for byte.
	for _, want := range []string{
		"SUB foo  1\r\n", "SUB bar workers 2\r\n", "SUB forbidden.>  3\r\n",
		"PUB orders.new 4\r\ndata\r\n", "UNSUB 1 10\r\n", "UNSUB 1 \r\n", "PING\r\n",
	} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("nats.go did not send %q; it sent %q", want, raw)
		}
	}
	var ops []rec
	for _, c := range cmds {
		if c.Op != OpPing && c.Op != OpPong {
			ops = append(ops, c)
		}
	}
	connect, err := ParseConnect([]byte(ops[0].Arg))
	if err != nil || connect.Validate() != nil {
		t.Fatalf("nats.go's CONNECT %s: %v", ops[0].Arg, err)
	}
	wantConnect := ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 1, Echo: true, Headers: true, NoResponders: true},
		Name: "codec-test", Lang: "go", Version: nats.Version}
	if connect != wantConnect {
		t.Errorf("nats.go's CONNECT:\n got %+v\nwant %+v", connect, wantConnect)
	}
	hpub := "NATS/1.0\r\nK: v\r\n\r\nx"
	want := []rec{
		{Op: OpConnect, Arg: ops[0].Arg},
		{Op: OpSub, Subject: "foo", SID: "1"},
		{Op: OpSub, Subject: "bar", Queue: "workers", SID: "2"},
		{Op: OpSub, Subject: "forbidden.>", SID: "3"},
		{Op: OpPub, Subject: "orders.new", Payload: "data"},
		{Op: OpHPub, Subject: "orders.hdr", HeaderSize: len(hpub) - 1, Payload: hpub},
		{Op: OpUnsub, SID: "1", Max: 10},
		{Op: OpUnsub, SID: "1"},
	}
	if len(ops) != len(want) {
		t.Fatalf("parsed %v\nwant %v", ops, want)
	}
	for i := range want {
		if ops[i] != want[i] {
			t.Errorf("command %d: got %v, want %v", i, ops[i], want[i])
		}
	}
}

func wantAsyncErr(t *testing.T, errs <-chan error, text string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), text) {
			t.Fatalf("nats.go reported %v, want a permission violation with %s", err, text)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nats.go reported nothing, want %s", text)
	}
}

// TestNATSGo_ClosesForGoodOnUnknownErr pins down what the connection code
// must know about nats.go: an -ERR text it does not recognise, such as
// "Slow Consumer", makes it close the connection for good, where a plain
// close (how nats-server closes a slow consumer) or TextStaleConnection
// makes it reconnect.
func TestNATSGo_ClosesForGoodOnUnknownErr(t *testing.T) {
	for _, tc := range []struct {
		text       string // "" for a close without -ERR
		reconnects bool
	}{
		{"Slow Consumer", false},
		{TextMaxPayload, false},
		{TextStaleConnection, true},
		{TextUnknownOp, true},
		{"", true},
	} {
		name := tc.text
		if name == "" {
			name = "close without -ERR"
		}
		t.Run(name, func(t *testing.T) {
			var once sync.Once
			kick := make(chan struct{})
			srv := startCodecServer(t, func(c *Command, out []byte) []byte {
				switch c.Op {
				case OpPing:
					return AppendPong(out)
				case OpSub:
					once.Do(func() { close(kick) })
				}
				return out
			})
			reconnected, closed := make(chan struct{}, 1), make(chan struct{})
			nc, err := nats.Connect(srv.url(), nats.ReconnectWait(10*time.Millisecond),
				nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }),
				nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
				nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// The SUB tells the server which connection to end; the server
			// ends it from outside its read loop, as natsfan's writer would.
			if _, err := nc.SubscribeSync("x"); err != nil {
				t.Fatal(err)
			}
			<-kick
			srv.endConnection(t, 0, tc.text)
			select {
			case <-reconnected:
				if !tc.reconnects {
					t.Fatal("nats.go reconnected")
				}
			case <-closed:
				if tc.reconnects {
					t.Fatalf("nats.go closed for good: %v", nc.LastError())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("nats.go neither reconnected nor closed")
			}
		})
	}
}

func (s *codecServer) conn(t *testing.T, id int) net.Conn {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if id >= len(s.conns) {
		t.Fatalf("no connection %d", id)
	}
	return s.conns[id]
}

// endConnection sends -ERR text (unless empty) on connection id and closes
// it. It is only for TestNATSGo_ClosesForGoodOnUnknownErr, which keeps the
// connections for that purpose.
func (s *codecServer) endConnection(t *testing.T, id int, text string) {
	t.Helper()
	conn := s.conn(t, id)
	if text != "" {
		if _, err := conn.Write(AppendErr(nil, text)); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
}
