package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// natsfanBinary is the path of natsfan built once for the tests in this
// package (see TestMain).
var natsfanBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "natsfan-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	natsfanBinary = filepath.Join(dir, "natsfan")
	build := exec.Command("go", "build", "-o", natsfanBinary, "../cmd/natsfan")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build natsfan:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running natsfan binary whose JSON log lines the test reads.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // what Wait returned

	mu    sync.Mutex
	lines []map[string]any
	added chan struct{} // signalled when a line arrives
}

// startNatsfan runs the binary with env (and nothing of the test's own
// environment but PATH and HOME), killing it when the test ends.
func startNatsfan(t *testing.T, env ...string) *process {
	t.Helper()
	cmd := exec.Command(natsfanBinary)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), added: make(chan struct{}, 1)}
	go p.readLog(t, stderr)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *process) readLog(t *testing.T, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			line = map[string]any{"msg": sc.Text(), "unparsed": true}
		}
		t.Logf("natsfan: %s", sc.Text())
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		select {
		case p.added <- struct{}{}:
		default:
		}
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

// waitLog waits for a log line whose message contains msg and returns it.
func (p *process) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for seen := 0; ; {
		p.mu.Lock()
		lines := p.lines[seen:]
		p.mu.Unlock()
		for _, l := range lines {
			if m, _ := l["msg"].(string); strings.Contains(m, msg) {
				return l
			}
		}
		seen += len(lines)
		select {
		case <-p.added:
		case <-p.done:
			t.Fatalf("natsfan exited (%v) before logging %q", p.err, msg)
		case <-deadline:
			t.Fatalf("natsfan did not log %q", msg)
		}
	}
}

// exitCode waits for the process to exit within d and returns its status.
func (p *process) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("natsfan did not exit within %s", d)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// probe returns the status code and body of GET url.
func probe(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestBinary_BadEnvironmentExitsWith2NamingEveryBadVariable(t *testing.T) {
	cmd := exec.Command(natsfanBinary)
	cmd.Env = []string{
		"NATSFAN_NATS_URL=nats://127.0.0.1:4222",
		// NATSFAN_SUBJECTS missing: required with a URL
		"NATSFAN_RETENTION_MESSAGES=lots",
		"NATSFAN_SHUTDOWN_TIMEOUT=-3s",
		"NATSFAN_LOG_LEVEL=chatty",
		"NATSFAN_SUBJECT=typo.>",
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2; output:\n%s", err, out)
	}
	for _, name := range []string{"NATSFAN_SUBJECTS", "NATSFAN_RETENTION_MESSAGES", "NATSFAN_SHUTDOWN_TIMEOUT", "NATSFAN_LOG_LEVEL", "NATSFAN_SUBJECT"} {
		if !strings.Contains(string(out), name) {
			t.Errorf("the error does not name %s:\n%s", name, out)
		}
	}
}

// TestBinary_EmbeddedModeBecomesReadyAndStopsCleanlyOnSIGTERM runs the
// binary with no upstream: it starts its own nats-server, becomes ready,
// ingests what is published to it, and exits 0 on SIGTERM.
func TestBinary_EmbeddedModeBecomesReadyAndStopsCleanlyOnSIGTERM(t *testing.T) {
	p := startNatsfan(t,
		"NATSFAN_EMBEDDED_PORT=-1",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET="+filepath.Join(t.TempDir(), "natsfan.sock"),
		"NATSFAN_SHUTDOWN_TIMEOUT=5s")
	embedded := p.waitLog(t, "embedded NATS server")
	started := p.waitLog(t, "natsfan started")
	readyz, _ := started["probes"].(string)
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := probe(readyz); return code == http.StatusOK })

	url, _ := embedded["url"].(string)
	nc := connect(t, url)
	publishAll(t, nc, msg("demo.hello", 1), msg("demo.hello", 2))
	metrics := strings.TrimSuffix(readyz, "/readyz") + "/metrics"
	waitFor(t, "the metrics to count both messages", func() bool {
		_, body := probe(metrics)
		return strings.Contains(body, `natsfan_messages_received_total{stream=">"} 2`)
	})
	if code, body := probe(strings.TrimSuffix(readyz, "/readyz") + "/livez"); code != http.StatusOK {
		t.Fatalf("/livez = %d %s", code, body)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
}

// TestBinary_ReadyzFollowsTheUpstream points the binary at a server that
// goes away and comes back: /readyz goes 503 (with the reason) and then 200,
// while /livez stays 200 throughout.
func TestBinary_ReadyzFollowsTheUpstream(t *testing.T) {
	srv := startServer(t, -1)
	port := serverPort(t, srv)
	p := startNatsfan(t,
		"NATSFAN_NATS_URL="+srv.ClientURL(),
		"NATSFAN_SUBJECTS=events.>",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET="+filepath.Join(t.TempDir(), "natsfan.sock"))
	started := p.waitLog(t, "natsfan started")
	readyz, _ := started["probes"].(string)
	livez := strings.TrimSuffix(readyz, "/readyz") + "/livez"
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := probe(readyz); return code == http.StatusOK })

	srv.Shutdown()
	var reason string
	waitFor(t, "/readyz to answer 503", func() bool {
		code, body := probe(readyz)
		reason = body
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(reason, "upstream") {
		t.Errorf("/readyz 503 reason = %q, want it to name the upstream", reason)
	}
	if code, _ := probe(livez); code != http.StatusOK {
		t.Errorf("/livez = %d during the upstream outage, want 200", code)
	}

	startServer(t, port)
	waitFor(t, "/readyz to answer 200 again", func() bool { code, _ := probe(readyz); return code == http.StatusOK })
	p.waitLog(t, "reconnected")
}
