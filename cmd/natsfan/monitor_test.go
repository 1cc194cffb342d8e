package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/fanout/fanouttest"
)

// monitoredSidecar is a hub, its socket server and the main HTTP server with
// /connz and /subsz, all in the test process.
type monitoredSidecar struct {
	hub  *fanout.Hub
	srv  *fanout.Server
	path string // the Unix socket
	url  string // the HTTP server, on loopback
}

func startMonitoredSidecar(t *testing.T) *monitoredSidecar {
	t.Helper()
	hub, srv, path := servedHub(t)
	web, _, url := startHTTP(t, nil)
	web.serveMonitoring(&monitor{sock: srv})
	return &monitoredSidecar{hub: hub, srv: srv, path: path, url: url}
}

// publish appends n messages of size bytes on subject.
func (m *monitoredSidecar) publish(subject string, n, size int) {
	for range n {
		m.hub.Streams()[0].Append(time.Now(), fanout.Incoming{Subject: subject, Data: make([]byte, size)})
	}
}

// consumer connects nats.go to the socket as name, subscribed to subject.
func (m *monitoredSidecar) consumer(t *testing.T, name, subject string) *nats.Subscription {
	t.Helper()
	nc, err := nats.Connect("nats://localhost", nats.Name(name), nats.SetCustomDialer(unixDialer{path: m.path}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// stuck connects a client that subscribes to subject as name and then never
// reads, and publishes until natsfan has queued all it can for it: its
// socket buffer and outbound queue are full, and it falls behind in the
// hub from then on. It returns the messages published.
//
// A connection whose numbers did not move between two looks may only not
// have been scheduled (the whole suite runs at once, under -race): so
// stuck publishes more than the connection can ever absorb
// (fanouttest.NeverReadBytes)
// and waits for its numbers to stand still over three looks.
func (m *monitoredSidecar) stuck(t *testing.T, name, subject string) int {
	t.Helper()
	c, err := net.Dial("unix", m.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(`CONNECT {"verbose":false,"name":"` + name + `","lang":"raw","version":"1.0"}` + "\r\nSUB " + subject + " 1\r\nPING\r\n")); err != nil {
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
			break
		}
	}
	const size = 1024
	absorbs := fanouttest.NeverReadBytes()
	sent, queued, still := 0, int64(-1), 0
	monitorWait(t, name+" to fall behind", func() bool {
		m.publish(strings.ReplaceAll(subject, ">", "x"), 100, size)
		sent += 100
		cz, err := m.srv.Connz(fanout.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cz.Conns {
			if c.Name == name {
				if c.OutMsgs == queued && c.Pending > 128<<10 && c.LagMsgs >= 100 {
					still++
				} else {
					still = 0
				}
				queued = c.OutMsgs
				return still >= 3 && sent*size > absorbs+100*size
			}
		}
		return false
	})
	return sent
}

// monitorWait polls cond until it holds, failing the test after a deadline.
func monitorWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

// getJSON GETs url and decodes its JSON answer into v, which must be 200.
func getMonitor(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s, %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestConnz_TheStuckConsumerSortsFirstByLagInNatsServersShape(t *testing.T) {
	m := startMonitoredSidecar(t)
	reader := m.consumer(t, "reader", "demo.>")
	sent := m.stuck(t, "stuck", "demo.>")
	for range sent {
		if _, err := reader.NextMsg(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	var raw map[string]any
	getMonitor(t, m.url+"/connz?sort=lag&subs=detail", &raw)
	for _, key := range []string{"server_id", "now", "num_connections", "total", "offset", "limit", "connections"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("/connz lacks %q", key)
		}
	}
	conns := raw["connections"].([]any)
	first := conns[0].(map[string]any)
	for _, key := range []string{"cid", "kind", "type", "ip", "port", "start", "last_activity", "uptime", "idle",
		"pending_bytes", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "name", "lang", "version",
		"subscriptions_list_detail", "lag_messages", "lag_bytes", "readers"} {
		if _, ok := first[key]; !ok {
			t.Errorf("a connection lacks %q: %v", key, first)
		}
	}
	if first["name"] != "stuck" || first["kind"] != "Client" || first["type"] != "nats" || first["ip"] != "" || first["port"] != 0.0 {
		t.Errorf("first by lag: %v", first)
	}
	sub := first["subscriptions_list_detail"].([]any)[0].(map[string]any)
	for key, want := range map[string]any{"subject": "demo.>", "sid": "1", "mode": "buffered", "cid": first["cid"], "lag_messages": first["lag_messages"]} {
		if sub[key] != want {
			t.Errorf("stuck's subscription %s = %v, want %v", key, sub[key], want)
		}
	}

	// The same numbers as natsfan_consumer_lag_max_messages.
	var cz fanout.Connz
	getMonitor(t, m.url+"/connz?sort=lag", &cz)
	hs := m.hub.Stats()
	if cz.Conns[0].LagMsgs != hs.Streams[0].MaxLag || cz.Conns[0].LagBytes != hs.Streams[0].MaxLagBytes || cz.Conns[0].LagMsgs == 0 {
		t.Errorf("stuck's lag %d msgs %d bytes; the metric's %d msgs %d bytes", cz.Conns[0].LagMsgs, cz.Conns[0].LagBytes, hs.Streams[0].MaxLag, hs.Streams[0].MaxLagBytes)
	}
	if r := cz.Conns[1]; r.Name != "reader" || r.LagMsgs != 0 || r.OutMsgs != int64(sent) || r.Lang != "go" {
		t.Errorf("reader: %+v", r)
	}

	var sz subsz
	getMonitor(t, m.url+"/subsz?subs=1", &sz)
	if len(sz.Streams) != 1 || sz.Streams[0].FurthestBehind == nil || sz.Streams[0].FurthestBehind.Name != "stuck" ||
		sz.Streams[0].FurthestBehind.LagMsgs != hs.Streams[0].MaxLag || sz.NumSubs != 2 || len(sz.Subs) != 2 || sz.Streams[0].Upstream != nil {
		t.Errorf("/subsz: %+v %+v", sz.Subsz, sz.Streams)
	}
}

// TestMonitor_QueriesAsNatsServerParsesThem asks nats-server's monitoring
// port and natsfan the same questions: what nats-server refuses, natsfan
// refuses with the same status and text.
func TestMonitor_QueriesAsNatsServerParsesThem(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(ns.Shutdown)
	reference := "http://" + ns.MonitorAddr().String()
	m := startMonitoredSidecar(t)
	m.consumer(t, "c", "demo.>")

	for _, path := range []string{
		"/connz?sort=bogus",
		"/connz?sort=stop",
		"/connz?sort=reason&state=any",
		"/connz?limit=x",
		"/connz?offset=1.5",
		"/connz?cid=-1",
		"/connz?state=sleeping",
		"/connz?subs=maybe",
		"/subsz?subs=maybe",
		"/subsz?limit=x",
		"/subsz?test=demo.*",
	} {
		wantCode, wantBody := do(t, http.MethodGet, reference+path, "")
		code, body := do(t, http.MethodGet, m.url+path, "")
		if code != wantCode || body != wantBody || code != http.StatusBadRequest {
			t.Errorf("GET %s: natsfan %d %q, nats-server %d %q", path, code, body, wantCode, wantBody)
		}
	}

	for _, tt := range []struct {
		path  string
		check func(*fanout.Connz) bool
	}{
		{"/connz", func(cz *fanout.Connz) bool { return cz.NumConns == 1 && cz.Limit == 1024 && cz.Conns[0].Subs == nil }},
		{"/connz?subs=1", func(cz *fanout.Connz) bool { return slices.Equal(cz.Conns[0].Subs, []string{"demo.>"}) }},
		{"/connz?subs=true", func(cz *fanout.Connz) bool { return len(cz.Conns[0].Subs) == 1 }},
		{"/connz?subs=detail", func(cz *fanout.Connz) bool { return len(cz.Conns[0].SubsDetail) == 1 && cz.Conns[0].Subs == nil }},
		{"/connz?sort=lag&limit=5&offset=1", func(cz *fanout.Connz) bool {
			return cz.Limit == 5 && cz.Offset == 1 && cz.Total == 1 && cz.NumConns == 0
		}},
		{"/connz?state=closed", func(cz *fanout.Connz) bool { return cz.Total == 0 && cz.Conns != nil }},
		{"/connz?state=ANY&sort=rtt", func(cz *fanout.Connz) bool { return cz.Total == 1 }},
		{"/connz?sort=stop&state=closed", func(cz *fanout.Connz) bool { return cz.NumConns == 0 }},
		{"/connz?cid=999", func(cz *fanout.Connz) bool { return cz.NumConns == 0 && cz.Limit == 1 }},
	} {
		var cz fanout.Connz
		getMonitor(t, m.url+tt.path, &cz)
		if !tt.check(&cz) {
			t.Errorf("GET %s: %+v", tt.path, cz)
		}
	}
}

func TestMonitor_RemoteCallersOnlyWhenAllowed(t *testing.T) {
	_, srv, _ := servedHub(t)
	for _, remote := range []bool{false, true} {
		m := &monitor{sock: srv, remote: remote}
		for _, path := range []string{"/connz", "/subsz"} {
			for _, from := range []string{"10.1.2.3:50000", "127.0.0.1:50000", "[::1]:50000"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.RemoteAddr = from
				rec := httptest.NewRecorder()
				serve := m.connz
				if path == "/subsz" {
					serve = m.subsz
				}
				m.handler(serve).ServeHTTP(rec, req)
				want := http.StatusOK
				if !remote && strings.HasPrefix(from, "10.") {
					want = http.StatusForbidden
				}
				if rec.Code != want {
					t.Errorf("remote=%v: GET %s from %s: %d %s, want %d", remote, path, from, rec.Code, rec.Body, want)
				}
				if rec.Code == http.StatusForbidden && !strings.Contains(rec.Body.String(), "NATSFAN_HTTP_MONITOR_REMOTE=true") {
					t.Errorf("the refusal does not say how to allow it: %s", rec.Body)
				}
			}
		}
	}
}
