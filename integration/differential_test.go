package integration

// The differential harness: a scenario runs twice, once with its client
// under test connected to a nats-server and once through the natsfan binary
// in front of a nats-server, and the two runs must observe the same thing.
// nats-server is the reference (DESIGN.md, decision 1): where they differ,
// natsfan is wrong unless a decision says otherwise.
//
// Writing a scenario:
//   - Return an observation: a value of exported fields (a struct, slices,
//     maps) that holds what a client can see and nothing that legitimately
//     differs between servers (server_id, version, client ids, ports,
//     timings). The harness compares the two with reflect.DeepEqual and
//     prints them as JSON, so keep it JSON-friendly (bytes as base64 or hex).
//   - Connect the client under test to tg.URL (both targets) or, with
//     nats.go, to tg.Socket (natsfan only). It may publish through natsfan;
//     tg.Pub, a nats.go connection straight to the upstream server, stands
//     for the rest of the cluster (a publisher, subscriber or responder
//     elsewhere).
//   - Before publishing, make sure the server has the client's
//     subscriptions: the client flushes after subscribing (nats.go
//     nc.Flush(), nats.js await nc.flush()). A PONG after SUB means the
//     server has processed the SUB, in nats-server and in natsfan alike: for
//     a subject natsfan buffers (NATSFAN_SUBJECTS, ">" by default) the
//     message published afterwards reaches the subscription, and for one it
//     serves on interest natsfan answers the PING only once the upstream
//     server has natsfan's own SUB. Nothing is polled on the server side.
//   - A message can reach a client through natsfan by two paths, from a
//     buffer or from a subscription on interest; to see a message
//     delivered twice, or late, end the scenario with a fence on each path
//     (untilFences in diff_publish_test.go).
//   - A nats.js client is a script in integration/js (see
//     TestDifferential_SubscribeNatsJS and integration/js/subscribe.js):
//     1. write integration/js/<name>.js, an ES module that imports connect
//        from "@nats-io/transport-node" and run, need (and step, if the Go
//        side must act midway) from "./scenario.js", and calls
//        run(async (a) => { ...; return observation; }), connecting to
//        need(a, "url") and taking its other parameters as --name value;
//     2. in Go, with no step: decodeObservation(t, "<name>.js",
//        runNode(t, "<name>.js", "--url", tg.URL, ...), &obs); with steps:
//        r := startNode(t, "<name>.js", "--url", tg.URL, ...), then for
//        each `await step("x")` in the script r.Await(t, "x"), act,
//        r.Resume(t), and finally r.JSON(t, &obs);
//     3. a new npm package goes into integration/js/package.json with an
//        exact version, and `npm install` there updates package-lock.json
//        (commit both; node_modules is ignored).
//     nats.js dials TCP only, so it uses tg.URL: natsfan's NATSFAN_LISTEN.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// diffTarget is where a scenario's client under test connects.
type diffTarget struct {
	Name     string         // "nats-server" or "natsfan"
	URL      string         // nats://127.0.0.1:PORT the client under test connects to (nats-server's client port, or natsfan's NATSFAN_LISTEN)
	Socket   string         // natsfan's Unix socket path; "" for nats-server
	Upstream *server.Server // the real nats-server (for natsfan: its upstream)
	Pub      *nats.Conn     // a nats.go connection straight to Upstream, for publishing
	Natsfan  *process       // the natsfan binary's process; nil for nats-server
	HTTP     string         // natsfan's HTTP server (probes, metrics): http://host:port; "" for nats-server
}

// Connect connects a nats.go client under test to the target (natsfan's
// Unix socket when there is one, nats-server's client port otherwise),
// closing it when the test ends.
func (tg *diffTarget) Connect(t *testing.T, opts ...nats.Option) *nats.Conn {
	t.Helper()
	if tg.Socket != "" {
		return dialSocket(t, tg.Socket, opts...)
	}
	nc, err := nats.Connect(tg.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type diffOptions struct {
	Subjects string                // NATSFAN_SUBJECTS; default ">"
	Env      []string              // extra NATSFAN_* settings for natsfan
	Direct   func(*server.Options) // tweaks to the nats-server the client uses directly (e.g. MaxPending), applied only for the nats-server run
	// Upstream tweaks both runs' nats-server, the one the client uses
	// directly and the one natsfan is in front of (e.g. JetStream, or a
	// max_payload the client must see either way); Direct applies after it.
	// A server with JetStream and no StoreDir stores in a directory of its
	// own run.
	Upstream func(*server.Options)
}

// differential runs scenario twice, as subtests "nats-server" and "natsfan":
// once with the client under test connected to a fresh nats-server, once
// through a fresh natsfan binary in front of a fresh nats-server, and fails
// unless both runs return equal observations (reflect.DeepEqual), printing
// both as indented JSON with the first difference.
func differential[T any](t *testing.T, opts diffOptions, scenario func(t *testing.T, tg *diffTarget) T) {
	t.Helper()
	var got [2]T
	var ok, skipped [2]bool
	for i, name := range []string{"nats-server", "natsfan"} {
		ok[i] = t.Run(name, func(t *testing.T) {
			defer func() { skipped[i] = t.Skipped() }()
			var tg *diffTarget
			if name == "nats-server" {
				tg = directTarget(t, opts)
			} else {
				tg = natsfanTarget(t, opts)
			}
			got[i] = scenario(t, tg)
		})
	}
	if !ok[0] || !ok[1] {
		t.Fatal("a run failed; nothing to compare")
	}
	if skipped[0] || skipped[1] {
		t.Skip("a run was skipped; nothing to compare")
	}
	if reflect.DeepEqual(got[0], got[1]) {
		return
	}
	want, have := indentJSON(t, got[0]), indentJSON(t, got[1])
	where := firstDifference(want, have)
	if where == "" {
		where = fmt.Sprintf("(not visible in JSON) %#v vs %#v", got[0], got[1])
	}
	t.Fatalf("natsfan observed something else than nats-server\nfirst difference: %s\n--- nats-server:\n%s\n--- natsfan:\n%s", where, want, have)
}

// directTarget starts a nats-server for the client under test.
func directTarget(t *testing.T, opts diffOptions) *diffTarget {
	t.Helper()
	up := startServerWith(t, func(o *server.Options) {
		if opts.Upstream != nil {
			opts.Upstream(o)
		}
		if opts.Direct != nil {
			opts.Direct(o)
		}
	})
	return &diffTarget{Name: "nats-server", URL: up.ClientURL(), Upstream: up, Pub: connect(t, up.ClientURL())}
}

// natsfanTarget starts a nats-server and the natsfan binary in front of it,
// and waits until natsfan is ready.
func natsfanTarget(t *testing.T, opts diffOptions) *diffTarget {
	t.Helper()
	up := startServerWith(t, opts.Upstream)
	subjects := opts.Subjects
	if subjects == "" {
		subjects = ">"
	}
	sock := filepath.Join(t.TempDir(), "natsfan.sock")
	env := append([]string{
		"NATSFAN_NATS_URL=" + up.ClientURL(),
		"NATSFAN_SUBJECTS=" + subjects,
		"NATSFAN_SOCKET=" + sock,
		"NATSFAN_LISTEN=127.0.0.1:0", // the log line "natsfan started" says which port
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
	}, opts.Env...)
	p := startNatsfan(t, env...)
	started := p.waitLog(t, "natsfan started")
	listen, _ := started["listen"].(string)
	readyz, _ := started["probes"].(string)
	if listen == "" || readyz == "" {
		t.Fatalf("natsfan's start line has no listen address or probe URL: %v", started)
	}
	waitFor(t, "natsfan's /readyz to answer 200", func() bool { code, _ := probe(readyz); return code == http.StatusOK })
	return &diffTarget{Name: "natsfan", URL: "nats://" + listen, Socket: sock, Upstream: up, Pub: connect(t, up.ClientURL()), Natsfan: p,
		HTTP: strings.TrimSuffix(readyz, "/readyz")}
}

// startServerWith starts a nats-server on a free loopback port, with tweak
// applied to its options, and shuts it down when the test ends.
func startServerWith(t testing.TB, tweak func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true}
	if tweak != nil {
		tweak(o)
	}
	if o.JetStream && o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// indentJSON renders an observation for a failure message.
func indentJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v (not JSON: %v)", v, err)
	}
	return string(b)
}

// firstDifference returns where two JSON documents first differ, as a path
// such as $.messages[2].headers.Key and the two values there; "" if they do
// not.
func firstDifference(a, b string) string {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return ""
	}
	return diffJSON("$", x, y)
}

func diffJSON(path string, x, y any) string {
	show := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(xv)+len(yv))
		for k := range xv {
			keys = append(keys, k)
		}
		for k := range yv {
			if _, dup := xv[k]; !dup {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			xk, inX := xv[k]
			yk, inY := yv[k]
			switch {
			case !inX:
				return fmt.Sprintf("%s.%s: nats-server has none, natsfan has %s", path, k, show(yk))
			case !inY:
				return fmt.Sprintf("%s.%s: nats-server has %s, natsfan has none", path, k, show(xk))
			}
			if d := diffJSON(path+"."+k, xk, yk); d != "" {
				return d
			}
		}
		return ""
	case []any:
		yv, ok := y.([]any)
		if !ok {
			break
		}
		for i := 0; i < len(xv) && i < len(yv); i++ {
			if d := diffJSON(fmt.Sprintf("%s[%d]", path, i), xv[i], yv[i]); d != "" {
				return d
			}
		}
		if len(xv) != len(yv) {
			return fmt.Sprintf("%s: nats-server has %d elements, natsfan %d", path, len(xv), len(yv))
		}
		return ""
	default:
		if reflect.DeepEqual(x, y) {
			return ""
		}
	}
	return fmt.Sprintf("%s: nats-server has %s, natsfan has %s", path, show(x), show(y))
}

// jsDir is the directory of the nats.js scenario scripts, relative to the
// package directory go test runs in.
const jsDir = "js"

var (
	npmOnce sync.Once
	npmErr  error
)

// runNode runs the nats.js scenario script integration/js/<script> with
// args under the machine's node, and returns its stdout. It skips the test
// with a clear message only when `node` is not on PATH. The first call
// installs integration/js/node_modules with `npm ci` when it is missing or
// out of date, and fails the test if that fails. A script that exits non-zero fails the
// test with its stderr.
func runNode(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	return startNode(t, script, args...).Output(t)
}

// nodeRun is a nats.js scenario script running under node, which the test
// can drive step by step: the script's `await step(name)` stops it until
// the test has seen the step (Await) and lets it go on (Resume).
type nodeRun struct {
	script string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	steps  chan string   // the script's steps, from its file descriptor 3; closed at its end
	done   chan struct{} // closed when the script has exited
	err    error         // what Wait returned, set before done is closed

	stdout, stderr bytes.Buffer // read only after done
}

// startNode starts integration/js/<script> with args under node, like
// runNode, and returns at once; the script is killed when the test ends.
func startNode(t *testing.T, script string, args ...string) *nodeRun {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the nats.js scenarios need Node.js 18 or later (and npm, to install integration/js/node_modules)")
	}
	npmOnce.Do(func() { npmErr = npmInstall() })
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	r := &nodeRun{script: script, steps: make(chan string, 16), done: make(chan struct{})}
	r.cmd = exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	r.cmd.Dir = jsDir
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stepsR, stepsW, err := os.Pipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.cmd.ExtraFiles = []*os.File{stepsW} // the script's fd 3
	if err := r.cmd.Start(); err != nil {
		cancel()
		stepsR.Close()
		stepsW.Close()
		t.Fatalf("node %s: %v", script, err)
	}
	stepsW.Close()
	go func() {
		sc := bufio.NewScanner(stepsR)
		for sc.Scan() {
			r.steps <- sc.Text()
		}
		stepsR.Close()
		close(r.steps)
	}()
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// Await waits until the script reaches `await step(name)`, failing the test
// if it reaches another step, exits, or takes too long.
func (r *nodeRun) Await(t *testing.T, name string) {
	t.Helper()
	select {
	case got, ok := <-r.steps:
		switch {
		case !ok:
			<-r.done
			t.Fatalf("node %s exited (%v) before step %q\nstderr:\n%s", r.script, r.err, name, r.stderr.Bytes())
		case got != name:
			t.Fatalf("node %s reached step %q, want %q", r.script, got, name)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not reach step %q", r.script, name)
	}
}

// Resume lets the script go on from the step it waits at.
func (r *nodeRun) Resume(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(r.stdin, "go\n"); err != nil {
		t.Fatalf("cannot resume node %s: %v", r.script, err)
	}
}

// Output waits for the script to exit and returns its stdout, failing the
// test with its stderr if it exits non-zero.
func (r *nodeRun) Output(t *testing.T) []byte {
	t.Helper()
	r.stdin.Close() // a script still waiting at a step fails instead of hanging
	<-r.done
	if r.err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s\nstdout:\n%s", r.script, r.err, r.stderr.Bytes(), r.stdout.Bytes())
	}
	if r.stderr.Len() > 0 {
		t.Logf("node %s stderr:\n%s", r.script, r.stderr.Bytes())
	}
	return r.stdout.Bytes()
}

// JSON decodes the script's output (Output), one JSON document, into v.
func (r *nodeRun) JSON(t *testing.T, v any) {
	t.Helper()
	decodeObservation(t, r.script, r.Output(t), v)
}

// decodeObservation decodes what a scenario script printed, one JSON
// document, into v.
func decodeObservation(t *testing.T, script string, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("node %s printed no JSON observation (%v):\n%s", script, err, out)
	}
}

// npmInstall runs `npm ci` in integration/js unless node_modules holds what
// package-lock.json says: npm writes node_modules/.package-lock.json at the
// end of an install, so an install that failed half-way, or one older than
// the lock file, is done again.
func npmInstall() error {
	lock, err := os.Stat(filepath.Join(jsDir, "package-lock.json"))
	if err != nil {
		return err
	}
	if installed, err := os.Stat(filepath.Join(jsDir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("node is on PATH but npm is not: install npm, or run `npm ci` in integration/js, for the nats.js scenarios")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = jsDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("cannot install the nats.js scenarios' packages (`npm ci` in integration/js): %v\n%s", err, out)
	}
	return nil
}
