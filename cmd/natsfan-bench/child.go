package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process this program started and measures: the leaf node or
// the sidecar. Stop it with stop, always.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	tail *lineRing     // its last lines of output, for error messages
	varz string        // the leaf node's /varz URL; "" for the sidecar

	mu        sync.Mutex
	reasons   map[string]int // why the sidecar closed consumer connections, from its log
	pprofAddr string         // where the sidecar serves pprof, from its log; "" if it does not
}

// startChild starts cmd and waits until a line of its output (stdout or
// stderr) contains ready, returning that line.
func startChild(name string, cmd *exec.Cmd, ready string, timeout time.Duration) (*child, string, error) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("cannot start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), tail: &lineRing{max: 20}, reasons: map[string]int{}}
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(c.done)
	}()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.tail.add(line)
			c.noteLog(line)
			if strings.Contains(line, ready) {
				select {
				case found <- line:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-found:
		return c, line, nil
	case <-c.done:
		return nil, "", fmt.Errorf("%s exited before it was ready:\n%s", name, c.tail)
	case <-time.After(timeout):
		c.stop()
		return nil, "", fmt.Errorf("%s not ready after %v:\n%s", name, timeout, c.tail)
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the process to exit (SIGTERM), kills it if it has not within
// 10 s, and waits until it has exited.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// exited reports whether the process has exited, with its output if so.
func (c *child) exited() error {
	select {
	case <-c.done:
		return errors.New(c.name + " exited:\n" + c.tail.String())
	default:
		return nil
	}
}

// noteLog takes what the measurements need from a line of the sidecar's
// log: the reason when it closes a consumer connection (a slow consumer,
// say), and the address of its pprof server.
func (c *child) noteLog(line string) {
	if !strings.HasPrefix(line, "{") {
		return
	}
	var l struct{ Logger, Msg, Reason, Addr string }
	if json.Unmarshal([]byte(line), &l) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case l.Msg == "closing connection":
		c.reasons[l.Reason]++
	case l.Logger == "pprof" && l.Msg == "listening":
		c.pprofAddr = l.Addr
	}
}

// pprof returns the address of the sidecar's pprof server, or "".
func (c *child) pprof() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pprofAddr
}

// closeReasons returns why the sidecar has closed consumer connections so
// far, such as "slow_consumer×3", or "".
func (c *child) closeReasons() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for r, n := range c.reasons {
		out = append(out, fmt.Sprintf("%s×%d", r, n))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// cleanEnv is this process's environment without NATSFAN_ variables, plus
// extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATSFAN_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// lineRing keeps the last max lines added to it.
type lineRing struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (r *lineRing) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	if len(r.lines) > r.max {
		r.lines = r.lines[1:]
	}
}

func (r *lineRing) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
