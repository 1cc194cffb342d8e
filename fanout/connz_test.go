package fanout_test

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/fanout/fanouttest"
)

// monitored is a Server on a Unix socket and a loopback TCP port, for the
// monitoring tests.
type monitored struct {
	hub  *fanout.Hub
	srv  *fanout.Server
	path string // the Unix socket
	tcp  string // host:port
}

func startMonitored(t *testing.T, cfg fanout.ServerConfig, opts ...fanout.Option) *monitored {
	t.Helper()
	hub := newHub(t, []string{"a.>", "b.>"}, opts...)
	srv := fanout.NewServer(hub, cfg, nil)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "natsfan.sock")
	unixLn, err := fanout.ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(unixLn)
	go srv.Serve(tcpLn)
	return &monitored{hub: hub, srv: srv, path: path, tcp: tcpLn.Addr().String()}
}

// natsConn connects nats.go to the Unix socket with name.
func (m *monitored) natsConn(t *testing.T, name string) *nats.Conn {
	t.Helper()
	return m.natsConnTo(t, name, nats.SetCustomDialer(unixDialer(m.path)))
}

func (m *monitored) natsConnTo(t *testing.T, name string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("nats://"+m.tcp, append(opts, nats.Name(name))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// stuck connects to the Unix socket a client that sends CONNECT (as name)
// and the given SUB lines, waits for their PONG, and then never reads
// again. (Over loopback TCP, the kernel would take megabytes first.)
func (m *monitored) stuck(t *testing.T, name string, subs ...string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", m.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hello := `CONNECT {"verbose":false,"name":"` + name + `","lang":"raw","version":"0.1"}` + "\r\n" +
		strings.Join(subs, "") + "PING\r\n"
	if _, err := c.Write([]byte(hello)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no PONG: %v", err)
		}
		if l == "PONG\r\n" {
			return c
		}
	}
}

// appendKiB appends n messages of 1 KiB on subject.
func appendKiB(m *monitored, subject string, n int) {
	st := m.hub.Streams()[0]
	if strings.HasPrefix(subject, "b.") {
		st = m.hub.Streams()[1]
	}
	payload := make([]byte, 1024)
	for range n {
		st.Append(time.Now(), fanout.Incoming{Subject: subject, Data: payload})
	}
}

func (m *monitored) connz(t *testing.T, opts fanout.ConnzOptions) *fanout.Connz {
	t.Helper()
	cz, err := m.srv.Connz(opts)
	if err != nil {
		t.Fatal(err)
	}
	return cz
}

// byName returns the connection named name in cz, or nil.
func byName(cz *fanout.Connz, name string) *fanout.ConnInfo {
	for _, c := range cz.Conns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestServer_ConnzSortsTheStuckConsumerFirstByLag(t *testing.T) {
	m := startMonitored(t, fanout.ServerConfig{})
	nc := m.natsConnTo(t, "reader")
	if _, err := nc.SubscribeSync("a.>"); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.QueueSubscribeSync("b.x", "workers"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	m.stuck(t, "stuck", "SUB a.> 1\r\n")

	// Fill the stuck client's socket buffers and outbound queue until its
	// feed falls behind in the hub, for good: past what it can absorb.
	sent, queued, still := 0, int64(-1), 0
	waitFor(t, "the stuck consumer to fall behind", func() bool {
		appendKiB(m, "a.x", 100)
		sent += 100
		// Once its socket buffer and outbound queue are full, it is queued
		// nothing more, however much arrives, and its writer, blocked,
		// takes nothing from the queue.
		s := byName(m.connz(t, fanout.ConnzOptions{}), "stuck")
		if s.OutMsgs == queued && s.Pending > 128<<10 && s.LagMsgs >= 100 {
			still++
		} else {
			still = 0
		}
		queued = s.OutMsgs
		return still >= 3 && sent*1024 > fanouttest.NeverReadBytes()+100*1024
	})
	waitFor(t, "the reader to be sent everything", func() bool {
		r := byName(m.connz(t, fanout.ConnzOptions{}), "reader")
		return r.OutMsgs == int64(sent) && r.LagMsgs == 0 && r.Pending == 0
	})

	cz := m.connz(t, fanout.ConnzOptions{Sort: fanout.ByLag})
	if cz.NumConns != 2 || cz.Total != 2 || cz.Limit != fanout.DefaultConnListSize || cz.Offset != 0 || cz.ID == "" {
		t.Errorf("connz header: %+v", cz)
	}
	stuck, reader := cz.Conns[0], cz.Conns[1]
	if stuck.Name != "stuck" || reader.Name != "reader" {
		t.Fatalf("sorted by lag: %q then %q, want stuck then reader\n%+v\n%+v", stuck.Name, reader.Name, stuck, reader)
	}
	// The stuck consumer is the furthest behind: its lag is the metric's.
	hs := m.hub.Stats()
	if stuck.LagMsgs != hs.Streams[0].MaxLag || stuck.LagBytes != hs.Streams[0].MaxLagBytes {
		t.Errorf("stuck lag %d msgs %d bytes, the hub's max %d msgs %d bytes", stuck.LagMsgs, stuck.LagBytes, hs.Streams[0].MaxLag, hs.Streams[0].MaxLagBytes)
	}
	if len(stuck.Readers) != 1 || stuck.Readers[0] != (fanout.ReaderLag{Stream: "a.>", LagMsgs: stuck.LagMsgs, LagBytes: stuck.LagBytes}) {
		t.Errorf("stuck readers: %+v", stuck.Readers)
	}
	if stuck.Kind != "Client" || stuck.Type != "nats" || stuck.IP != "" || stuck.Port != 0 ||
		stuck.Lang != "raw" || stuck.Version != "0.1" || stuck.NumSubs != 1 || stuck.Stop != nil || stuck.Reason != "" {
		t.Errorf("stuck: %+v", stuck)
	}
	if stuck.OutMsgs+int64(stuck.LagMsgs) > int64(sent) || stuck.OutMsgs == 0 {
		t.Errorf("stuck was queued %d messages and is %d behind, of %d", stuck.OutMsgs, stuck.LagMsgs, sent)
	}
	if reader.IP != "127.0.0.1" || reader.Port == 0 || reader.Lang != "go" || reader.Version != nats.Version ||
		reader.NumSubs != 2 || reader.OutBytes != int64(sent*1024) || reader.Pending != 0 {
		t.Errorf("reader (on TCP): %+v", reader)
	}
	wantReaders := []fanout.ReaderLag{{Stream: "a.>"}, {Queue: "workers", Subject: "b.x"}}
	if len(reader.Readers) != 2 || reader.Readers[0] != wantReaders[0] || reader.Readers[1] != wantReaders[1] {
		t.Errorf("reader's readers: %+v, want %+v", reader.Readers, wantReaders)
	}
	if reader.Start.After(reader.LastActivity) || reader.Uptime == "" || reader.Idle == "" {
		t.Errorf("reader times: start %v, last activity %v, uptime %q, idle %q", reader.Start, reader.LastActivity, reader.Uptime, reader.Idle)
	}

	detail := m.connz(t, fanout.ConnzOptions{CID: stuck.Cid, SubscriptionsDetail: true})
	if detail.NumConns != 1 || detail.Limit != 1 || len(detail.Conns[0].SubsDetail) != 1 {
		t.Fatalf("connz?cid=%d&subs=detail: %+v", stuck.Cid, detail)
	}
	sd := detail.Conns[0].SubsDetail[0]
	if sd.Subject != "a.>" || sd.Sid != "1" || sd.Cid != stuck.Cid || sd.Mode != "buffered" ||
		len(sd.Streams) != 1 || sd.Streams[0] != "a.>" || sd.LagMsgs == 0 || sd.Msgs != detail.Conns[0].OutMsgs {
		t.Errorf("stuck's subscription: %+v", sd)
	}
	list := m.connz(t, fanout.ConnzOptions{CID: reader.Cid, Subscriptions: true})
	if got := list.Conns[0].Subs; len(got) != 2 || got[0] != "a.>" || got[1] != "b.x" {
		t.Errorf("reader's subscriptions_list: %q", got)
	}

	// /subsz: the stream's furthest-behind reader is the stuck connection.
	in, err := m.hub.Subscribe(testContext(t), "a.y")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	sz, err := m.srv.Subsz(fanout.SubszOptions{Subscriptions: true})
	if err != nil {
		t.Fatal(err)
	}
	a := sz.Streams[0]
	if a.Subject != "a.>" || a.Mode != "buffered" || a.SocketSubs != 2 || a.InProcessSubs != 1 || a.Readers != 3 ||
		a.LastSeq != uint64(sent) || a.FirstSeq != a.LastSeq-a.Messages+1 || a.Messages == 0 {
		t.Errorf("stream a.>: %+v", a)
	}
	if f := a.FurthestBehind; f == nil || f.Cid != stuck.Cid || f.Name != "stuck" || f.LagMsgs != hs.Streams[0].MaxLag {
		t.Errorf("a.>'s furthest behind: %+v, want cid %d", f, stuck.Cid)
	}
	if b := sz.Streams[1]; b.Subject != "b.>" || b.SocketSubs != 1 || b.Readers != 1 || b.FurthestBehind != nil || b.FirstSeq != 1 || b.LastSeq != 0 {
		t.Errorf("stream b.>: %+v", b)
	}
	if sz.NumSubs != 4 || sz.Total != 4 || len(sz.Subs) != 4 || sz.NumInserts != 3 || sz.NumRemoves != 0 || sz.MaxFanout != 3 {
		t.Errorf("subsz: %+v", sz)
	}
	if last := sz.Subs[3]; !last.InProcess || last.Subject != "a.y" {
		t.Errorf("the in-process subscription comes last: %+v", last)
	}

	tested, err := m.srv.Subsz(fanout.SubszOptions{Subscriptions: true, Test: "b.x", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if tested.Total != 1 || tested.Subs[0].Queue != "workers" || tested.Limit != 10 {
		t.Errorf("subsz?test=b.x: %+v", tested)
	}
	if _, err := m.srv.Subsz(fanout.SubszOptions{Test: "b.*"}); err == nil || err.Error() != "invalid test subject, must be valid publish subject: b.*" {
		t.Errorf("subsz?test=b.*: %v", err)
	}
}

func TestServer_ConnzOptionsAsNatsServerTakesThem(t *testing.T) {
	m := startMonitored(t, fanout.ServerConfig{})
	for i, name := range []string{"one", "two", "three"} {
		nc := m.natsConn(t, name)
		for range i + 1 {
			if _, err := nc.SubscribeSync("a.>"); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	names := func(cz *fanout.Connz) string {
		var out []string
		for _, c := range cz.Conns {
			out = append(out, c.Name)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		opts fanout.ConnzOptions
		want string
	}{
		{fanout.ConnzOptions{}, "one,two,three"},
		{fanout.ConnzOptions{Sort: fanout.ByCid}, "one,two,three"},
		{fanout.ConnzOptions{Sort: fanout.BySubs}, "three,two,one"},
		{fanout.ConnzOptions{Sort: fanout.ByUptime}, "three,two,one"},
		{fanout.ConnzOptions{Sort: fanout.ByLag}, "one,two,three"}, // none behind: cid order
		{fanout.ConnzOptions{Limit: 1, Offset: 1}, "two"},
		{fanout.ConnzOptions{Offset: 5}, ""},
		{fanout.ConnzOptions{Offset: -1, Limit: -1}, "one,two,three"},
		{fanout.ConnzOptions{State: fanout.ConnClosed}, ""},
	}
	for _, tt := range tests {
		cz := m.connz(t, tt.opts)
		if got := names(cz); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.opts, got, tt.want)
		}
		if cz.NumConns != len(cz.Conns) {
			t.Errorf("%+v: num_connections %d for %d", tt.opts, cz.NumConns, len(cz.Conns))
		}
	}
	if cz := m.connz(t, fanout.ConnzOptions{Limit: 1, Offset: 1}); cz.Total != 3 || cz.Limit != 1 || cz.Offset != 1 {
		t.Errorf("limit=1&offset=1: total %d limit %d offset %d", cz.Total, cz.Limit, cz.Offset)
	}
	for opts, want := range map[fanout.ConnzOptions]string{
		{Sort: "bogus"}:                                "invalid sorting option: bogus",
		{Sort: fanout.ByStop}:                          "sort by stop only valid on closed connections",
		{Sort: fanout.ByReason}:                        "sort by reason only valid on closed connections",
		{Sort: fanout.ByReason, State: fanout.ConnAll}: "sort by reason only valid on closed connections",
	} {
		if _, err := m.srv.Connz(opts); err == nil || err.Error() != want {
			t.Errorf("%+v: %v, want %q", opts, err, want)
		}
	}
}

func TestServer_ConnzKeepsClosedConnectionsWithNatsServersReasons(t *testing.T) {
	m := startMonitored(t, fanout.ServerConfig{MaxConnections: 2},
		fanout.WithLagLimit(buffer.Lag{MaxMessages: 200}), fanout.WithSweepInterval(5*time.Millisecond))

	// bye reads b.>, so that the flood on a.> that cuts the stuck
	// consumer off cannot cut it off too.
	bye := m.natsConn(t, "bye")
	byeSub, err := bye.SubscribeSync("b.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := bye.Flush(); err != nil {
		t.Fatal(err)
	}
	m.stuck(t, "stuck", "SUB a.> 1\r\n", "SUB b.> 2\r\n")
	// A third connection is over the limit.
	over, err := net.Dial("unix", m.path)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	waitFor(t, "the third connection to be refused", func() bool {
		return m.srv.Stats().Closed[fanout.CloseMaxConnections] == 1
	})

	waitFor(t, "the stuck consumer to be cut off", func() bool {
		appendKiB(m, "a.x", 100)
		return m.srv.Stats().Closed[fanout.CloseSlowConsumer] == 1
	})
	appendKiB(m, "b.x", 3)
	for range 3 {
		if _, err := byeSub.NextMsg(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	bye.Close()
	waitFor(t, "both to be closed", func() bool { return m.srv.Stats().Connections == 0 })

	cz := m.connz(t, fanout.ConnzOptions{State: fanout.ConnClosed, Sort: fanout.ByReason})
	if cz.Total != 3 || cz.NumConns != 3 {
		t.Fatalf("closed: total %d, %d listed", cz.Total, cz.NumConns)
	}
	want := []struct{ name, reason string }{
		{"bye", "Client Closed"},
		{"", "Maximum Connections Exceeded"},
		{"stuck", "Slow Consumer (Pending Bytes)"},
	}
	for i, w := range want {
		c := cz.Conns[i]
		if c.Name != w.name || c.Reason != w.reason || c.Stop == nil || c.Stop.Before(c.Start) {
			t.Errorf("closed %d: name %q reason %q stop %v, want %q %q", i, c.Name, c.Reason, c.Stop, w.name, w.reason)
		}
	}
	if s := cz.Conns[2]; s.NumSubs != 2 || s.OutMsgs == 0 || s.IP != "" || s.Lang != "raw" {
		t.Errorf("the slow consumer as it closed: %+v", s)
	}
	if b := cz.Conns[0]; b.OutMsgs != 3 || b.OutBytes != 3*1024 || b.NumSubs != 1 {
		t.Errorf("the client that closed: %+v", b)
	}

	byStop := m.connz(t, fanout.ConnzOptions{State: fanout.ConnClosed, Sort: fanout.ByStop})
	if byStop.Conns[0].Name != "bye" {
		t.Errorf("sorted by stop, the last to close comes first: got %q", byStop.Conns[0].Name)
	}
	one := m.connz(t, fanout.ConnzOptions{State: fanout.ConnAll, CID: cz.Conns[2].Cid})
	if one.NumConns != 1 || one.Conns[0].Name != "stuck" {
		t.Errorf("state=any&cid=%d: %+v", cz.Conns[2].Cid, one.Conns)
	}
	if open := m.connz(t, fanout.ConnzOptions{}); open.Total != 0 || len(open.Conns) != 0 || open.Conns == nil {
		t.Errorf("open: %+v (connections must be [] in JSON, not null)", open)
	}
}
