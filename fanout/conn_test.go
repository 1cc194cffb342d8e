package fanout

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConn_AnIdleReaderBlocksOnTheSmallestStack connects consumers that
// CONNECT, SUB and go idle, and checks that each connection's reader, its
// only goroutine then, comes to hold no more stack than a goroutine that
// did nothing but block in Read. Handling CONNECT and SUB grows a stack to twice
// that, and a blocked goroutine cannot give it back.
//
// It measures in a process of its own: stacks that earlier tests freed
// would be reused, and blur what the new goroutines take.
func TestConn_AnIdleReaderBlocksOnTheSmallestStack(t *testing.T) {
	if os.Getenv(inFreshProcess) == "" {
		runInFreshProcess(t)
		return
	}
	const n = 1000
	_, path := serveHub(t, []string{"s.>"}, ServerConfig{})
	blocked := stackOfBlockedReaders(t, n) // kept until the test ends, so that the readers cannot reuse their stacks

	running := runtime.NumGoroutine()
	before := stackInUse()
	for i := range n {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := nc.Write([]byte("CONNECT {\"verbose\":false}\r\nSUB s.x 1\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(nc)
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("connection %d: waiting for PONG: %v", i, err)
			}
			if strings.HasPrefix(line, "PONG") {
				break
			}
		}
	}
	waitGoroutines(t, running+n) // the readers alone: writers and feeds are gone
	// The readers move to new stacks once their clients have been quiet
	// for quietAfter: wait until they all have, or the deadline passes.
	deadline := time.Now().Add(10 * time.Second)
	perReader := (stackInUse() - before) / n
	for perReader > blocked*11/10 && time.Now().Before(deadline) {
		time.Sleep(quietAfter / 4) // polling a condition, with a deadline
		perReader = (stackInUse() - before) / n
	}
	t.Logf("an idle connection's reader holds %d B of stack; a goroutine blocked in Read, %d B", perReader, blocked)
	if perReader > blocked*3/2 {
		t.Errorf("an idle connection's reader holds %d B of stack, want about %d B, what a goroutine blocked in Read holds", perReader, blocked)
	}
}

// inFreshProcess is set in the environment of a test that runInFreshProcess
// started.
const inFreshProcess = "NATSFAN_TEST_IN_FRESH_PROCESS"

// runInFreshProcess runs the test t alone in a new process of this test
// binary, and fails if it fails there.
func runInFreshProcess(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), inFreshProcess+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a process of its own:\n%s", out)
	if err != nil {
		t.Fatalf("in a process of its own: %v", err)
	}
}

// stackOfBlockedReaders starts n goroutines that do nothing but block
// reading a socket until the test ends, and returns the stack each holds.
func stackOfBlockedReaders(t *testing.T, n int) uint64 {
	t.Helper()
	running := runtime.NumGoroutine()
	before := stackInUse()
	var ends []net.Conn
	for range n {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			f := os.NewFile(uintptr(fd), "socketpair")
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			ends = append(ends, c)
		}
		go func(c net.Conn) {
			var buf [1]byte
			_, _ = c.Read(buf[:])
		}(ends[len(ends)-1])
	}
	t.Cleanup(func() {
		for _, c := range ends {
			c.Close()
		}
	})
	waitGoroutines(t, running+n)
	return (stackInUse() - before) / uint64(n)
}

// stackInUse returns the bytes of goroutine stacks in use, once a
// collection has freed those of goroutines that ended.
func stackInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}

// waitGoroutines waits until at most n goroutines run. At most, not
// exactly: a goroutine of an earlier test, counted in the caller's
// baseline, may end meanwhile.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines run, want at most %d", runtime.NumGoroutine(), n)
		}
		runtime.Gosched()
	}
}
