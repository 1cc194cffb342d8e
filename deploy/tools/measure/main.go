// Command measure runs the natsfan binary under a load and reports its peak
// memory (VmHWM) and CPU time, so that the container's resource requests and
// limits in deploy/kubernetes are sized from a measurement, not a guess.
//
// It builds natsfan the way deploy/Dockerfile does (or takes -bin), starts a
// nats-server in its own process as natsfan's upstream, and starts natsfan
// with the tunables of a kustomize env file (the base ConfigMap by default):
// retention, lag and ingest limits, subjects. Only what cannot apply outside
// a pod is replaced: the upstream URL and credentials, the socket path and
// the HTTP address. Then it connects consumers over the socket, publishes,
// and reads /proc/PID/status and /metrics. Run it from deploy/:
//
//	go run ./tools/measure -size 335 -count 200000 -rate 20000 -consumers 10 -stuck 1 -gomemlimit 128MiB
//
// The nats-server runs in this process, not in natsfan's, so natsfan's
// figures are those of a sidecar with a real upstream. Linux only (/proc).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	bin        string
	envFile    string
	set        string
	size       int
	count      int
	rate       int
	consumers  int
	stuck      int
	gomemlimit string
	keep       bool
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "", "natsfan binary to measure; empty: build ../cmd/natsfan with the Dockerfile's flags")
	flag.StringVar(&o.envFile, "env", "kubernetes/base/natsfan.env", "kustomize env file whose NATSFAN_ settings natsfan runs with")
	flag.StringVar(&o.set, "set", "", "extra settings, comma-separated NAME=VALUE, applied after -env (e.g. NATSFAN_RETENTION_BYTES=64MiB)")
	flag.IntVar(&o.size, "size", 512, "payload size of each message, in bytes")
	flag.IntVar(&o.count, "count", 200000, "messages published on each configured subject")
	flag.IntVar(&o.rate, "rate", 20000, "messages per second per subject; 0: as fast as the publisher goes (the reading consumers may then fall behind and be cut off)")
	flag.IntVar(&o.consumers, "consumers", 10, "consumers that read everything, over the socket (nats.go)")
	flag.IntVar(&o.stuck, "stuck", 1, "consumers that subscribe to everything and never read: they pin the lag limit until cut off")
	flag.StringVar(&o.gomemlimit, "gomemlimit", "", "GOMEMLIMIT for natsfan, as the Deployment sets it from limits.memory (e.g. 192MiB); empty: unset")
	flag.BoolVar(&o.keep, "keep", false, "print natsfan's log")
	flag.Parse()

	dir, err := os.MkdirTemp("", "natsfan-measure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if o.bin == "" {
		o.bin = filepath.Join(dir, "natsfan")
		if err := build(o.bin); err != nil {
			return err
		}
	}
	settings, err := readEnvFile(o.envFile)
	if err != nil {
		return err
	}
	for _, kv := range strings.Split(o.set, ",") {
		if name, value, ok := strings.Cut(kv, "="); ok {
			settings[strings.TrimSpace(name)] = value
		}
	}

	// The upstream: a nats-server in this process.
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
	if err != nil {
		return err
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server did not start")
	}

	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	socket := filepath.Join(dir, "natsfan.sock")
	for _, name := range []string{
		"NATSFAN_NATS_URL", "NATSFAN_SOCKET", "NATSFAN_HTTP_ADDR", "NATSFAN_EMBEDDED_PORT",
		"NATSFAN_NATS_CREDS_FILE", "NATSFAN_NATS_NKEY_SEED_FILE", "NATSFAN_NATS_TOKEN", "NATSFAN_NATS_TOKEN_FILE",
		"NATSFAN_NATS_USER", "NATSFAN_NATS_PASSWORD", "NATSFAN_NATS_PASSWORD_FILE",
		"NATSFAN_NATS_TLS_CA", "NATSFAN_NATS_TLS_CERT", "NATSFAN_NATS_TLS_KEY",
	} {
		delete(settings, name)
	}
	settings["NATSFAN_NATS_URL"] = ns.ClientURL()
	settings["NATSFAN_SOCKET"] = socket
	settings["NATSFAN_HTTP_ADDR"] = httpAddr
	subjects := strings.Split(settings["NATSFAN_SUBJECTS"], ",")
	if settings["NATSFAN_SUBJECTS"] == "" {
		return fmt.Errorf("%s sets no NATSFAN_SUBJECTS", o.envFile)
	}

	cmd := exec.Command(o.bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if o.gomemlimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+o.gomemlimit)
	}
	for name, value := range settings {
		cmd.Env = append(cmd.Env, name+"="+value)
	}
	var log strings.Builder
	cmd.Stderr = &log
	if o.keep {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	pid := cmd.Process.Pid

	if err := waitReady(httpAddr, exited, 20*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, log.String())
	}
	idle, err := procStatus(pid)
	if err != nil {
		return err
	}

	// Consumers that keep up.
	var received, closed atomic.Int64
	var conns []*nats.Conn
	for range o.consumers {
		nc, err := nats.Connect("nats://localhost", nats.SetCustomDialer(unixDialer{socket}), nats.MaxReconnects(0),
			nats.ClosedHandler(func(*nats.Conn) { closed.Add(1) }))
		if err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
		conns = append(conns, nc)
		for _, subj := range subjects {
			sub, err := nc.Subscribe(subj, func(*nats.Msg) { received.Add(1) })
			if err != nil {
				return err
			}
			// Let nats.go queue what it must: the point is natsfan's memory.
			if err := sub.SetPendingLimits(-1, -1); err != nil {
				return err
			}
		}
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	// Consumers that never read.
	for range o.stuck {
		c, err := net.Dial("unix", socket)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := subscribeAndStall(c, subjects); err != nil {
			return fmt.Errorf("stuck consumer: %w", err)
		}
	}

	pub, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return err
	}
	defer pub.Close()
	payload := make([]byte, o.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Second / time.Duration(o.rate)
	}
	next := time.Now()
	for i := range o.count {
		for _, subj := range subjects {
			if err := pub.Publish(literal(subj, i), payload); err != nil {
				return err
			}
		}
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		} else if i%1000 == 999 {
			if err := pub.Flush(); err != nil { // keep the publisher from outrunning the server
				return err
			}
		}
	}
	if err := pub.Flush(); err != nil {
		return err
	}
	published := time.Since(start)

	// Wait until every delivery arrived, or nothing arrived for a second
	// (the reading consumers were cut off as slow consumers).
	want := int64(o.count * len(subjects) * o.consumers)
	delivered := time.Since(start)
	for last, idleSince := received.Load(), time.Now(); last < want && time.Since(idleSince) < time.Second; {
		time.Sleep(20 * time.Millisecond)
		if n := received.Load(); n != last {
			last, idleSince, delivered = n, time.Now(), time.Since(start)
		}
	}
	cutOff := closed.Load()
	cpu1, err := cpuTime(pid)
	if err != nil {
		return err
	}
	peak, err := procStatus(pid)
	if err != nil {
		return err
	}
	metrics, err := scrape(httpAddr)
	if err != nil {
		return err
	}
	for _, nc := range conns {
		nc.Close()
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(30 * time.Second):
		return errors.New("natsfan did not exit within 30s of SIGTERM")
	}

	fmt.Printf("natsfan %s\n", version(o.bin))
	fmt.Printf("settings:")
	for _, name := range []string{"NATSFAN_SUBJECTS", "NATSFAN_RETENTION_MESSAGES", "NATSFAN_RETENTION_BYTES",
		"NATSFAN_CONSUMER_MAX_LAG_MESSAGES", "NATSFAN_CONSUMER_MAX_LAG_BYTES", "NATSFAN_CONSUMER_LAG_POLICY",
		"NATSFAN_INGEST_PENDING_MESSAGES", "NATSFAN_INGEST_PENDING_BYTES"} {
		if v, ok := settings[name]; ok {
			fmt.Printf(" %s=%s", strings.TrimPrefix(name, "NATSFAN_"), v)
		}
	}
	if o.gomemlimit != "" {
		fmt.Printf(" GOMEMLIMIT=%s", o.gomemlimit)
	}
	fmt.Println()
	fmt.Printf("load: %d subject(s) x %d messages x %d B payload, %d reading consumer(s), %d stuck\n",
		len(subjects), o.count, o.size, o.consumers, o.stuck)
	fmt.Printf("idle:  VmRSS %s\n", mib(idle["VmRSS"]))
	fmt.Printf("peak:  VmHWM %s (VmRSS at the end %s)\n", mib(peak["VmHWM"]), mib(peak["VmRSS"]))
	fmt.Printf("rate:  published in %v (%.0f msg/s), last delivery after %v; %d of %d deliveries; %d reading consumer(s) cut off\n",
		published.Round(time.Millisecond), float64(o.count*len(subjects))/published.Seconds(),
		delivered.Round(time.Millisecond), received.Load(), want, cutOff)
	fmt.Printf("cpu:   %.2f s of CPU over %v: %.2f cores\n", cpu1-cpu0, delivered.Round(time.Millisecond), (cpu1-cpu0)/delivered.Seconds())
	fmt.Printf("buffer: natsfan_buffer_bytes %s, natsfan_buffer_messages %s, natsfan_slow_consumers_total %s, natsfan_messages_dropped_total %s\n",
		metrics["natsfan_buffer_bytes"], metrics["natsfan_buffer_messages"], metrics["natsfan_slow_consumers_total"], metrics["natsfan_messages_dropped_total"])
	if exitErr != nil {
		return fmt.Errorf("natsfan exited with %v after SIGTERM\n%s", exitErr, log.String())
	}
	fmt.Println("exit:  0 after SIGTERM")
	return nil
}

// build builds natsfan as deploy/Dockerfile does: static, trimmed, stripped.
func build(out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=measure", "-o", out, "./cmd/natsfan")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot build natsfan (run measure from deploy/): %w", err)
	}
	return nil
}

// readEnvFile reads a kustomize env file: NAME=VALUE lines, # comments.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not NAME=VALUE", path, line)
		}
		out[name] = value
	}
	return out, sc.Err()
}

// literal turns a subject pattern into a subject it matches.
func literal(pattern string, i int) string {
	toks := strings.Split(pattern, ".")
	for j, t := range toks {
		if t == "*" || t == ">" {
			toks[j] = "t" + strconv.Itoa(i%8)
		}
	}
	return strings.Join(toks, ".")
}

// subscribeAndStall subscribes c to every subject with the raw protocol,
// waits for the PONG that says natsfan has handled the SUBs, and returns:
// nothing reads from c again.
func subscribeAndStall(c net.Conn, subjects []string) error {
	var b strings.Builder
	b.WriteString("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
	for i, subj := range subjects {
		fmt.Fprintf(&b, "SUB %s %d\r\n", subj, i+1)
	}
	b.WriteString("PING\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "PONG"):
			return nil
		case strings.HasPrefix(line, "-ERR"):
			return errors.New(strings.TrimSpace(line))
		}
	}
}

type unixDialer struct{ path string }

func (d unixDialer) Dial(_, _ string) (net.Conn, error) { return net.Dial("unix", d.path) }

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /readyz until it answers 200.
func waitReady(addr string, exited <-chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("natsfan exited before it was ready: %v", err)
		case <-ctx.Done():
			return errors.New("natsfan was not ready in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// procStatus returns the kB fields of /proc/PID/status, in bytes.
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			out[name] = n << 10
		}
	}
	return out, nil
}

// cpuTime returns the user and system CPU seconds of PID.
func cpuTime(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may contain spaces; fields follow it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	const clockTicks = 100 // sysconf(_SC_CLK_TCK) on Linux
	return (utime + stime) / clockTicks, nil
}

var metricLine = regexp.MustCompile(`^(natsfan_[a-z_]+)(\{[^}]*\})? (\S+)$`)

// scrape returns the sum of each natsfan_ metric's samples on /metrics.
func scrape(addr string) (map[string]string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	sums := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			sums[m[1]] += v
		}
	}
	out := map[string]string{}
	for k, v := range sums {
		out[k] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return out, nil
}

// version returns what natsfan version prints.
func version(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(strings.TrimPrefix(string(out), "natsfan "))
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
