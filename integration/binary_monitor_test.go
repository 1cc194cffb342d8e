package integration

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/fanout/fanouttest"
)

// monitorJSON GETs natsfan's url and decodes its JSON answer into v.
func monitorJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// subszOf is what these tests read of /subsz.
type subszOf struct {
	UpstreamConnected bool `json:"upstream_connected"`
	Streams           []struct {
		fanout.StreamState
		Upstream struct {
			Subject string `json:"subject"`
			Active  bool   `json:"active"`
		} `json:"upstream"`
	} `json:"streams"`
}

// TestBinary_MonitoringShowsTheStuckConsumerFirstAndWhyConnectionsClosed
// runs the binary with three consumers of load.>: nats.go on the socket,
// nats.js on NATSFAN_LISTEN, and a raw client that subscribes and never
// reads. /connz sorted by lag puts the stuck one first, with the lag the
// metrics report, /subsz names it as the stream's furthest behind, natsfan
// top --once prints it first, and once it is cut off for lag and nats.js
// has closed, /connz?state=closed says why, as nats-server says it.
func TestBinary_MonitoringShowsTheStuckConsumerFirstAndWhyConnectionsClosed(t *testing.T) {
	tg := natsfanTarget(t, diffOptions{Subjects: "load.>", Env: []string{"NATSFAN_CONSUMER_MAX_LAG_MESSAGES=3000"}})

	var goReceived atomic.Int64
	nc := dialSocket(t, tg.Socket, nats.Name("go-consumer"))
	if _, err := nc.Subscribe("load.>", func(*nats.Msg) { goReceived.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js := startNode(t, "monitor.js", "--url", tg.URL, "--name", "js-consumer", "--subject", "load.>", "--end", "load.end")
	js.Await(t, "subscribed")
	js.Resume(t)
	stuck := dialRaw(t, tg.Socket)
	stuck.send(t, `CONNECT {"verbose":false,"name":"stuck","lang":"raw","version":"1.0"}`+"\r\nSUB load.> 1\r\n")
	stuck.pingPong(t)

	connz := func(query string) fanout.Connz {
		var cz fanout.Connz
		monitorJSON(t, tg.HTTP+"/connz"+query, &cz)
		return cz
	}
	named := func(cz fanout.Connz, name string) *fanout.ConnInfo {
		for _, c := range cz.Conns {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no connection named %q in %+v", name, cz.Conns)
		return nil
	}
	// Publish in chunks, each once the consumers that read have read the
	// last: only the stuck one falls behind.
	published := 0
	payload := make([]byte, 1024)
	publishChunk := func() {
		for range 200 {
			if err := tg.Pub.Publish("load.x", payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := tg.Pub.Flush(); err != nil {
			t.Fatal(err)
		}
		published += 200
		waitFor(t, "the consumers that read to keep up", func() bool {
			var sz subszOf
			monitorJSON(t, tg.HTTP+"/subsz", &sz)
			if sz.Streams[0].LastSeq != uint64(published) {
				return false
			}
			for _, c := range connz("").Conns {
				if c.Name != "stuck" && c.LagMsgs > 0 {
					return false
				}
			}
			return true
		})
	}
	queued, still := int64(-1), 0
	waitFor(t, "the stuck consumer to be queued all it can take", func() bool {
		publishChunk()
		s := named(connz(""), "stuck")
		if s.OutMsgs == queued && s.Pending > 128<<10 && s.LagMsgs >= 100 {
			still++
		} else {
			still = 0
		}
		queued = s.OutMsgs
		// Past what it can absorb, it is behind for good, whenever its
		// writer runs.
		return still >= 3 && published*len(payload) > fanouttest.NeverReadBytes()+100*len(payload)
	})
	publishAll(t, tg.Pub, &nats.Msg{Subject: "load.end", Data: []byte("end")})
	published++
	js.Await(t, "received")
	waitFor(t, "nats.go to receive everything", func() bool { return goReceived.Load() == int64(published) })

	cz := connz("?sort=lag&subs=detail")
	if cz.NumConns != 3 || cz.Total != 3 {
		t.Fatalf("/connz: %d of %d connections, want 3", cz.NumConns, cz.Total)
	}
	first := cz.Conns[0]
	if first.Name != "stuck" || first.Lang != "raw" || first.Version != "1.0" || first.LagMsgs == 0 {
		t.Fatalf("first by lag: %+v", first)
	}
	if lag := metric(t, tg, "natsfan_consumer_lag_max_messages"); float64(first.LagMsgs) != lag {
		t.Errorf("stuck's lag_messages %d, natsfan_consumer_lag_max_messages %v", first.LagMsgs, lag)
	}
	if lag := metric(t, tg, "natsfan_consumer_lag_max_bytes"); float64(first.LagBytes) != lag {
		t.Errorf("stuck's lag_bytes %d, natsfan_consumer_lag_max_bytes %v", first.LagBytes, lag)
	}
	if sd := first.SubsDetail; len(sd) != 1 || sd[0].Subject != "load.>" || sd[0].Mode != "buffered" || sd[0].LagMsgs != first.LagMsgs {
		t.Errorf("stuck's subscriptions: %+v", sd)
	}
	for _, name := range []string{"go-consumer", "js-consumer"} {
		c := named(cz, name)
		if c.LagMsgs != 0 || c.OutMsgs != int64(published) || c.NumSubs != 1 || c.Lang == "" || c.Lang == "raw" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if c := named(cz, "js-consumer"); c.IP != "127.0.0.1" || c.Port == 0 {
		t.Errorf("js-consumer, on NATSFAN_LISTEN: ip %q port %d", c.IP, c.Port)
	}
	if c := named(cz, "go-consumer"); c.Lang != "go" || c.Version != nats.Version || c.IP != "" || c.Port != 0 {
		t.Errorf("go-consumer, on the Unix socket: %+v", c)
	}

	var sz subszOf
	monitorJSON(t, tg.HTTP+"/subsz", &sz)
	st := sz.Streams[0]
	if !sz.UpstreamConnected || st.Subject != "load.>" || !st.Upstream.Active || st.Upstream.Subject != "load.>" ||
		st.SocketSubs != 3 || st.Readers != 3 || st.LastSeq != uint64(published) ||
		st.FurthestBehind == nil || st.FurthestBehind.Name != "stuck" || st.FurthestBehind.LagMsgs != first.LagMsgs {
		t.Errorf("/subsz: %+v", sz)
	}

	out, err := exec.Command(natsfanBinary, "top", "--once", "--url", tg.HTTP).CombinedOutput()
	if err != nil {
		t.Fatalf("natsfan top --once: %v\n%s", err, out)
	}
	t.Logf("natsfan top --once:\n%s", out)
	lines := strings.Split(string(out), "\n")
	if len(lines) < 9 || !strings.HasSuffix(lines[0], ": 3 connections, the furthest behind first") ||
		!strings.HasPrefix(lines[2], "STREAM ") || !strings.HasPrefix(lines[3], "load.> ") || !strings.Contains(lines[3], " stuck: ") ||
		!strings.HasPrefix(lines[5], "CID ") || strings.Fields(lines[6])[1] != "stuck" {
		t.Errorf("natsfan top --once: the header, the stream and the stuck consumer first, expected")
	}

	// nats.js closes; the stuck consumer falls past its lag limit.
	js.Resume(t)
	var obs struct {
		Received int `json:"received"`
	}
	js.JSON(t, &obs)
	if obs.Received != published {
		t.Errorf("nats.js received %d of %d", obs.Received, published)
	}
	for metric(t, tg, "natsfan_slow_consumers_total") == 0 {
		publishChunk()
	}
	waitFor(t, "both to be closed", func() bool { return connz("?state=closed").Total == 2 })
	closed := connz("?state=closed&sort=reason")
	for name, reason := range map[string]string{"js-consumer": "Client Closed", "stuck": "Slow Consumer (Pending Bytes)"} {
		if c := named(closed, name); c.Reason != reason || c.Stop == nil {
			t.Errorf("closed %s: reason %q, stop %v; want %q", name, c.Reason, c.Stop, reason)
		}
	}
	if open := connz(""); open.Total != 1 || open.Conns[0].Name != "go-consumer" {
		t.Errorf("open after: %+v", open.Conns)
	}
}
