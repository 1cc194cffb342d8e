package integration

// What natsfan answers on the wire, compared line by line with what
// nats-server answers to the same bytes: raw clients, since stock ones never
// send much of this (verbose and pedantic mode, a second CONNECT, an HPUB
// from a client that did not ask for headers).

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/natsfan/natsfan/fanout"
)

// TestSocket_VerboseAnswersLikeNatsServer sends the same SUBs and UNSUBs in
// verbose mode to nats-server and to natsfan, on the wire, and compares the
// answers.
func TestSocket_VerboseAnswersLikeNatsServer(t *testing.T) {
	answersLikeNatsServer(t, "CONNECT {\"verbose\":true}\r\nSUB foo.x 1\r\nSUB foo.x 1\r\nSUB foo.y q 2\r\nUNSUB 1\r\nUNSUB 9\r\nUNSUB 2 5\r\nPING\r\n")
}

// A client in pedantic mode, which nats-server assumes unless CONNECT says
// otherwise, is told of a publish to a wildcard or an empty token; the
// message goes on all the same. Verbose mode is assumed too, even before
// CONNECT.
func TestSocket_PedanticAnswersLikeNatsServer(t *testing.T) {
	for name, script := range map[string]string{
		"pedantic":           "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB foo.* 1\r\nx\r\nPUB foo..x 1\r\nx\r\nPUB foo.> 1\r\nx\r\nPUB foo.x 1\r\nx\r\nPING\r\n",
		"not pedantic":       "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo.* 1\r\nx\r\nPUB foo..x 1\r\nx\r\nPING\r\n",
		"by default":         "CONNECT {}\r\nPUB foo.* 1\r\nx\r\nPUB foo.x 1\r\nx\r\nPING\r\n",
		"before CONNECT":     "PUB foo.* 1\r\nx\r\nPUB foo.x 1\r\nx\r\nPING\r\n",
		"headers, pedantic":  "CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo.* 12 13\r\nNATS/1.0\r\n\r\nx\r\nPING\r\n",
		"tokens with * or >": "CONNECT {\"verbose\":false}\r\nPUB foo.a* 1\r\nx\r\nPUB foo.>b 1\r\nx\r\nPING\r\n",
		"control characters": "CONNECT {\"verbose\":false}\r\nPUB foo.\x01 1\r\nx\r\nPUB foo.\x7f.* 1\r\nx\r\nPING\r\n",
	} {
		t.Run(name, func(t *testing.T) { answersLikeNatsServer(t, script) })
	}
}

// The message of a pedantic client's publish to a wildcard goes upstream
// after the -ERR, as nats-server publishes it.
func TestSocket_PedanticClientsPublishToWildcardsAllTheSame(t *testing.T) {
	up := startServer(t, -1)
	sub, err := connect(t, up.ClientURL()).SubscribeSync("foo.>")
	if err != nil {
		t.Fatal(err)
	}
	sc := startPodSidecar(t, up.ClientURL(), []string{"foo.>"}, fanout.ServerConfig{})
	rc := dialRaw(t, sc.path)
	rc.send(t, "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB foo.* 1\r\nx\r\nPING\r\n")
	if l := rc.line(t); l != "-ERR 'Invalid Publish Subject'" {
		t.Fatalf("natsfan answered %q, want nats-server's -ERR 'Invalid Publish Subject'", l)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("the publish did not reach upstream: %v", err)
	}
	if msg.Subject != "foo.*" {
		t.Fatalf("upstream received %q, want foo.*", msg.Subject)
	}
}

// After the PONG to its first PING since CONNECT, a client of protocol 1
// gets an INFO that names its account (through natsfan, the account of its
// upstream connection); one of protocol 0 gets none.
func TestSocket_TheFirstPONGBringsTheAccountLikeNatsServer(t *testing.T) {
	for name, script := range map[string]string{
		"protocol 1":            "CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\nPING\r\n",
		"protocol 0":            "CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\nPING\r\n",
		"a PING before CONNECT": "PING\r\nCONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\nPING\r\n",
	} {
		t.Run(name, func(t *testing.T) { answersLikeNatsServer(t, script) })
	}
}

// nats-server decodes a CONNECT over what the connection's earlier ones
// said, so what a later one leaves out stands: here headers, and quiet.
func TestSocket_ALaterCONNECTKeepsWhatAnEarlierSaid(t *testing.T) {
	answersLikeNatsServer(t, "CONNECT {\"verbose\":false,\"headers\":true}\r\nCONNECT {}\r\nHPUB foo.x 12 13\r\nNATS/1.0\r\n\r\nx\r\nSUB foo.y 1\r\nPING\r\n")
}

// A client that has not said in its CONNECT that it takes headers, or has
// sent no CONNECT yet, is cut off at its first HPUB without an -ERR, as
// nats-server cuts it off, whatever the sizes the HPUB declares.
func TestSocket_HPUBWithoutHeadersClosesLikeNatsServer(t *testing.T) {
	for name, script := range map[string]string{
		"headers false":    "CONNECT {\"verbose\":false}\r\nHPUB foo.x 12 13\r\nNATS/1.0\r\n\r\nx\r\nPING\r\n",
		"before CONNECT":   "HPUB foo.x 12 13\r\nNATS/1.0\r\n\r\nx\r\nPING\r\n",
		"over max_payload": "CONNECT {\"verbose\":true}\r\nHPUB foo.x 12 99999999\r\n",
		"malformed":        "CONNECT {\"verbose\":false}\r\nHPUB foo.x\r\n",
	} {
		t.Run(name, func(t *testing.T) { closesLikeNatsServer(t, script) })
	}
}

// answersLikeNatsServer sends script over a raw connection to nats-server,
// and to natsfan's socket in front of another, and fails unless both
// answer with the same lines up to the PONG to the script's last PING,
// with which it must end. An INFO line is compared by what a client acts
// on in it (infoSays), not by the server's id or ports.
func answersLikeNatsServer(t *testing.T, script string) {
	t.Helper()
	answers := func(rc *rawClient) []string {
		rc.send(t, script)
		var got []string
		for pongs := strings.Count(script, "PING\r\n"); ; {
			l := rc.line(t)
			if l == "PONG" {
				if pongs--; pongs == 0 {
					return got
				}
			}
			got = append(got, infoSays(t, l))
		}
	}
	direct, through := dialNatsServerAndNatsfan(t)
	want := answers(direct)
	if got := answers(through); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("natsfan answered %q, nats-server %q", got, want)
	}
}

// infoSays returns line, or for an INFO line what it says that a client acts
// on after it has connected: lame duck mode, and the account it is bound to.
func infoSays(t *testing.T, line string) string {
	t.Helper()
	js, ok := strings.CutPrefix(line, "INFO ")
	if !ok {
		return line
	}
	var info struct {
		LDM           bool   `json:"ldm"`
		ConnectInfo   bool   `json:"connect_info"`
		RemoteAccount string `json:"remote_account"`
		IsSystem      bool   `json:"acc_is_sys"`
	}
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatalf("INFO that is not JSON: %q", line)
	}
	return fmt.Sprintf("INFO ldm=%t connect_info=%t remote_account=%q acc_is_sys=%t", info.LDM, info.ConnectInfo, info.RemoteAccount, info.IsSystem)
}

// closesLikeNatsServer sends script as answersLikeNatsServer does, and
// fails unless both close the connection after the same last line.
func closesLikeNatsServer(t *testing.T, script string) {
	t.Helper()
	direct, through := dialNatsServerAndNatsfan(t)
	direct.send(t, script)
	want := direct.closedAfter(t)
	through.send(t, script)
	if got := through.closedAfter(t); got != want {
		t.Fatalf("natsfan closed after %q, nats-server after %q", got, want)
	}
}

// dialNatsServerAndNatsfan starts a nats-server, and natsfan's socket in
// front of another, and returns a raw connection to each, past its INFO.
func dialNatsServerAndNatsfan(t *testing.T) (direct, through *rawClient) {
	t.Helper()
	up := startServer(t, -1)
	direct = dialRawTo(t, "tcp", up.Addr().String())
	sc := startPodSidecar(t, up.ClientURL(), []string{"foo.>"}, fanout.ServerConfig{})
	return direct, dialRawTo(t, "unix", sc.path)
}
