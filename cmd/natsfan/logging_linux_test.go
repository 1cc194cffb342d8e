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
	buf := make([]byte, 4096)
	n, err := control.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	out := string(bytes.TrimSpace(buf[:n]))
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "\tINFO\t") || !strings.Contains(out, "\thello\t") {
		t.Errorf("on a terminal the log is %q, want the console format", out)
	}

	// Forced, the format is what it says, terminal or not.
	log, _, err = newLogger(&Config{LogLevel: "info", LogFormat: "json"}, term)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("forced")
	n, err = control.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if out := string(bytes.TrimSpace(buf[:n])); !strings.HasPrefix(out, "{") || !strings.Contains(out, `"msg":"forced"`) {
		t.Errorf("NATSFAN_LOG_FORMAT=json on a terminal gives %q, want JSON", out)
	}
}
