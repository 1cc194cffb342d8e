package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its controlling side and the
// terminal itself, which is what stderr is when natsfan runs in a terminal.
func openPTY(t *testing.T) (control, term *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	fd := int(control.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return control, term
}

// readLine reads from the terminal's controlling side up to the end of a
// line, which a busy machine may hand over in more than one read, and
// returns it without the surrounding space.
func readLine(t *testing.T, control *os.File) string {
	t.Helper()
	var line []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(line, []byte("\n")) {
		n, err := control.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", line, err)
		}
		line = append(line, buf[:n]...)
	}
	return string(bytes.TrimSpace(line))
}

// TestNewLogger_autoIsConsoleOnATerminal: with the default format, a person
// who runs natsfan in a terminal reads console lines, not JSON.
func TestNewLogger_autoIsConsoleOnATerminal(t *testing.T) {
	control, term := openPTY(t)
	if !isTerminal(term) {
		t.Fatal("isTerminal(a pseudo-terminal) = false")
	}
	log, _, err := newLogger(&Config{LogLevel: "info", LogFormat: "auto"}, term)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", zap.Int("n", 1))
	out := readLine(t, control)
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "\tINFO\t") || !strings.Contains(out, "\thello\t") {
		t.Errorf("on a terminal the log is %q, want the console format", out)
	}

	// Forced, the format is what it says, terminal or not.
	log, _, err = newLogger(&Config{LogLevel: "info", LogFormat: "json"}, term)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("forced")
	if out := readLine(t, control); !strings.HasPrefix(out, "{") || !strings.Contains(out, `"msg":"forced"`) {
		t.Errorf("NATSFAN_LOG_FORMAT=json on a terminal gives %q, want JSON", out)
	}
}
