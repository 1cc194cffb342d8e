package integration

import (
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The first-run tests do what a newcomer does: run natsfan with no upstream,
// read its start log, and paste the commands it names. They pass the same
// variables the README's first run leaves at their defaults, but for ports:
// NATSFAN_EMBEDDED_PORT=-1 makes natsfan pick free ones for the embedded
// server and for its own TCP listener, so that the tests collide with
// nothing on 4222 or 4223.

// Start-up hint lines, by the text that precedes the command.
const (
	hintSubTCP    = "subscribe through natsfan with the nats CLI"
	hintSubSocket = "or subscribe over natsfan's Unix socket"
	hintSubOnly   = "subscribe through natsfan over its Unix socket"
	hintPub       = "publish through natsfan"
)

// firstRun is natsfan started in embedded mode with free ports, with what
// its start log says.
type firstRun struct {
	p        *process
	socket   string
	listen   string // the "listen" field of "natsfan started"
	embedded string // the embedded server's URL, from its warning
	metrics  string // URL of /metrics
	sub, pub []string
}

func startFirstRun(t *testing.T) *firstRun {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "natsfan.sock")
	p := startNatsfan(t,
		"NATSFAN_EMBEDDED_PORT=-1",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET="+socket,
		"NATSFAN_SHUTDOWN_TIMEOUT=5s")
	embedded, _ := p.waitLog(t, "embedded NATS server")["url"].(string)
	started := p.waitLog(t, "natsfan started")
	listen, _ := started["listen"].(string)
	readyz, _ := started["probes"].(string)
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := probe(readyz); return code == http.StatusOK })
	return &firstRun{
		p: p, socket: socket, listen: listen, embedded: embedded,
		metrics: strings.TrimSuffix(readyz, "/readyz") + "/metrics",
		sub:     hintCommand(t, p, hintSubTCP),
		pub:     hintCommand(t, p, hintPub),
	}
}

// hintCommand waits for the hint line that starts with text and returns
// its command, split into words as a shell would.
func hintCommand(t *testing.T, p *process, text string) []string {
	t.Helper()
	line, _ := p.waitLog(t, text)["msg"].(string)
	if !strings.HasPrefix(line, text) {
		t.Fatalf("log line %q does not start with %q", line, text)
	}
	_, command, ok := strings.Cut(line, ": ")
	if !ok {
		t.Fatalf("log line %q names no command after %q", line, ": ")
	}
	return shellFields(t, command)
}

// shellFields splits a command into words as a POSIX shell does, for the
// quoting natsfan uses: words separated by spaces, and single quotes.
func shellFields(t *testing.T, command string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, r := range command {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", command)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// serverOf returns the value of -s in a nats CLI command.
func serverOf(t *testing.T, command []string) string {
	t.Helper()
	i := slices.Index(command, "-s")
	if i < 0 || i+1 == len(command) {
		t.Fatalf("command %q has no -s URL", command)
	}
	return command[i+1]
}

// TestBinary_FirstRunLogNamesCommandsThatGoThroughNatsfan follows the
// start log of embedded mode with a nats.go client: the subscribe and
// publish commands name natsfan's own TCP listener (not the embedded
// server), and a message published there goes through the embedded server
// and reaches the subscriber through natsfan, whose metrics count it.
func TestBinary_FirstRunLogNamesCommandsThatGoThroughNatsfan(t *testing.T) {
	r := startFirstRun(t)

	if r.listen == "" || strings.HasSuffix(r.listen, ":0") {
		t.Fatalf(`"natsfan started" gives listen %q: in embedded mode natsfan serves TCP, on the port it took`, r.listen)
	}
	if want := []string{"nats", "sub", "-s", "nats://" + r.listen, ">"}; !slices.Equal(r.sub, want) {
		t.Errorf("subscribe hint = %q, want %q", r.sub, want)
	}
	if want := []string{"nats", "pub", "-s", "nats://" + r.listen, "demo.hello", "hi"}; !slices.Equal(r.pub, want) {
		t.Errorf("publish hint = %q, want %q", r.pub, want)
	}
	if want := []string{"natsfan", "sub", "--socket", r.socket, ">"}; !slices.Equal(hintCommand(t, r.p, hintSubSocket), want) {
		t.Errorf("socket hint = %q, want %q", hintCommand(t, r.p, hintSubSocket), want)
	}
	subURL, pubURL := serverOf(t, r.sub), serverOf(t, r.pub)

	sub := connect(t, subURL)
	if name := sub.ConnectedServerName(); name != "natsfan" {
		t.Errorf("the subscribe URL %s reaches server %q, want natsfan", subURL, name)
	}
	s, err := sub.SubscribeSync(r.sub[len(r.sub)-1])
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil { // natsfan has the SUB
		t.Fatal(err)
	}

	pub := connect(t, pubURL)
	if name := pub.ConnectedServerName(); name != "natsfan" {
		t.Errorf("the publish URL %s reaches server %q, want natsfan", pubURL, name)
	}
	if err := pub.Publish(r.pub[4], []byte(r.pub[5])); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := s.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("the subscriber on %s received nothing: %v", subURL, err)
	}
	if m.Subject != "demo.hello" || string(m.Data) != "hi" {
		t.Errorf("received %s %q, want demo.hello \"hi\"", m.Subject, m.Data)
	}
	waitFor(t, "natsfan's metrics to count the delivery", func() bool {
		_, body := probe(r.metrics)
		return metricSum(t, body, "natsfan_messages_published_total") == 1 &&
			metricSum(t, body, `natsfan_messages_received_total{stream=">"}`) >= 1 &&
			metricSum(t, body, "natsfan_messages_delivered_total") == 1
	})
}

// TestBinary_UpstreamModeOpensNoTCPListenerUnlessTold: the TCP listener on
// the nats CLI's default port is for embedded mode; in front of a real
// cluster natsfan serves the socket only, and its log says how to add TCP.
func TestBinary_UpstreamModeOpensNoTCPListenerUnlessTold(t *testing.T) {
	srv := startServer(t, -1)
	p := startNatsfan(t,
		"NATSFAN_NATS_URL="+srv.ClientURL(),
		"NATSFAN_SUBJECTS=orders.>",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET="+filepath.Join(t.TempDir(), "natsfan.sock"))
	started := p.waitLog(t, "natsfan started")
	if listen, ok := started["listen"]; ok {
		t.Errorf(`"natsfan started" gives listen %v with NATSFAN_LISTEN unset in upstream mode`, listen)
	}
	if cfg := p.waitLog(t, "configuration"); cfg["listen"] != "" {
		t.Errorf("configuration has listen %q, want none", cfg["listen"])
	}
	hint, _ := p.waitLog(t, hintSubOnly)["msg"].(string)
	if !strings.Contains(hint, "NATSFAN_LISTEN") || !strings.HasSuffix(hint, "'orders.>'") {
		t.Errorf("hint %q should name NATSFAN_LISTEN and subscribe to a subject natsfan ingests", hint)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if m, _ := l["msg"].(string); strings.HasPrefix(m, hintPub) || strings.HasPrefix(m, hintSubTCP) {
			t.Errorf("upstream mode logged %q", m)
		}
	}
}

// TestBinary_FirstRunWithTheNatsCLI pastes the log's commands into the nats
// CLI: nats sub through natsfan receives what nats pub sends through it.
// It runs where the nats CLI is on PATH, as in CI (.ci/run installs it).
func TestBinary_FirstRunWithTheNatsCLI(t *testing.T) {
	natsCLI, err := exec.LookPath("nats")
	if err != nil {
		t.Skip("the nats CLI is not on PATH, so the log's nats sub and nats pub commands are not tried; install it with go install github.com/nats-io/natscli/nats@" + natsCLIVersion)
	}
	r := startFirstRun(t)
	if r.sub[0] != "nats" || r.pub[0] != "nats" {
		t.Fatalf("hints %q and %q are not nats CLI commands", r.sub, r.pub)
	}
	// A context of the user's own (a default server, credentials) must not
	// change what the commands do.
	env := []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}

	var out bytes.Buffer
	sub := exec.Command(natsCLI, append(r.sub[1:], "--count", "1")...)
	sub.Env, sub.Stdout, sub.Stderr = env, &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sub.Wait() }()
	t.Cleanup(func() {
		_ = sub.Process.Kill()
		<-exited
	})
	waitFor(t, "nats sub's subscription to reach natsfan", func() bool {
		_, body := probe(r.metrics)
		return metricSum(t, body, "natsfan_consumers") == 1
	})

	pub := exec.Command(natsCLI, r.pub[1:]...)
	pub.Env = env
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", r.pub, err, b)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("%q: %v\n%s", r.sub, err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%q received nothing in 20s; it wrote:\n%s", r.sub, out.String())
	}
	if got := out.String(); !strings.Contains(got, `Received on "demo.hello"`) || !strings.Contains(got, "hi") {
		t.Errorf("nats sub wrote:\n%s\nwant the message demo.hello hi", got)
	}
	waitFor(t, "natsfan's metrics to count the delivery", func() bool {
		_, body := probe(r.metrics)
		return metricSum(t, body, "natsfan_messages_delivered_total") == 1
	})
}
