package fanout_test

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsfan/natsfan/fanout"
)

// listenUnix calls ListenUnix and fails the test on an error; the test
// closes the listener when it ends.
func listenUnix(t *testing.T, path string, mode os.FileMode) *net.UnixListener {
	t.Helper()
	ln, err := fanout.ListenUnix(path, mode)
	if err != nil {
		t.Fatalf("ListenUnix(%q, %v): %v", path, mode, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// socketDir returns a new, short directory for sockets: t.TempDir's paths,
// which contain the test's name, can be too long for a socket address.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "natsfan")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// checkServes checks that ln accepts a connection made to path and receives
// what is written on it. Connections without data, such as ListenUnix's
// probe of a live socket, are accepted and skipped.
func checkServes(t *testing.T, ln *net.UnixListener, path string) {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				got <- "accept: " + err.Error()
				return
			}
			b, _ := io.ReadAll(c)
			_ = c.Close()
			if len(b) > 0 {
				got <- string(b)
				return
			}
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if s := <-got; s != "hello" {
		t.Fatalf("listener received %q, want hello", s)
	}
}

// modeOf returns the permission bits of the file at path, which must exist.
func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestListenUnix_ServesAndAppliesTheMode(t *testing.T) {
	// 0o666 and 0o606 are narrowed by any usual umask (022, 027), so they
	// show that the mode is set explicitly.
	for _, mode := range []os.FileMode{0o600, 0o660, 0o666, 0o606} {
		path := filepath.Join(socketDir(t), "s.sock")
		ln := listenUnix(t, path, mode)
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != mode {
			t.Errorf("mode %v: socket file has mode %v", mode, fi.Mode())
		}
		checkServes(t, ln, path)
	}
}

func TestListenUnix_CreatesMissingDirectories(t *testing.T) {
	tests := []struct {
		mode, dirMode os.FileMode
	}{
		{0o660, 0o750},
		{0o600, 0o700},
		{0o666, 0o755},
		{0o602, 0o705},
	}
	for _, tt := range tests {
		base := socketDir(t)
		if err := os.Chmod(base, 0o711); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(base, "a", "b", "s.sock")
		ln := listenUnix(t, path, tt.mode)
		for _, dir := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b")} {
			if got := modeOf(t, dir); got != tt.dirMode {
				t.Errorf("socket mode %v: %s has mode %v, want %v", tt.mode, dir, got, tt.dirMode)
			}
		}
		if got := modeOf(t, base); got != 0o711 {
			t.Errorf("the existing directory's mode changed to %v", got)
		}
		checkServes(t, ln, path)
	}
}

func TestListenUnix_RemovesTheFileOnClose(t *testing.T) {
	path := filepath.Join(socketDir(t), "s.sock")
	ln, err := fanout.ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, Lstat(%s) = %v; want the file gone", path, err)
	}
}

func TestListenUnix_ReplacesAStaleSocket(t *testing.T) {
	path := filepath.Join(socketDir(t), "s.sock")
	// What a crashed run leaves: a socket file nobody listens on.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("no stale socket to test with: %v, %v", fi, err)
	}

	ln := listenUnix(t, path, 0o600)
	checkServes(t, ln, path)
}

func TestListenUnix_RefusesASocketAProcessServesOn(t *testing.T) {
	path := filepath.Join(socketDir(t), "s.sock")
	live := listenUnix(t, path, 0o600)

	ln, err := fanout.ListenUnix(path, 0o600)
	if err == nil {
		_ = ln.Close()
		t.Fatal("ListenUnix on a live socket succeeded")
	}
	if !errors.Is(err, fanout.ErrSocketInUse) || !strings.Contains(err.Error(), "another process is serving on socket") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v; want ErrSocketInUse naming %s", err, path)
	}
	checkServes(t, live, path)
}

func TestListenUnix_NeverRemovesAFileThatIsNotASocket(t *testing.T) {
	dir := socketDir(t)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("precious"), 0o640); err != nil {
		t.Fatal(err)
	}
	fileMode := modeOf(t, file)
	sub := filepath.Join(dir, "dir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{file: "regular file", sub: "directory", link: "symbolic link"} {
		ln, err := fanout.ListenUnix(path, 0o600)
		if err == nil {
			_ = ln.Close()
			t.Fatalf("ListenUnix on a %s succeeded", kind)
		}
		if !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), path) {
			t.Errorf("ListenUnix on a %s: %v", kind, err)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "precious" || modeOf(t, file) != fileMode {
		t.Errorf("the regular file changed: %q, %v, mode %v", b, err, modeOf(t, file))
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Errorf("the directory changed: %v", err)
	}
	if target, err := os.Readlink(link); err != nil || target != file {
		t.Errorf("the symbolic link changed: %q, %v", target, err)
	}
}

func TestListenUnix_AFileInTheWayOfTheDirectoryIsAnError(t *testing.T) {
	file := filepath.Join(socketDir(t), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := fanout.ListenUnix(filepath.Join(file, "sub", "s.sock"), 0o600)
	if err == nil {
		_ = ln.Close()
		t.Fatal("ListenUnix under a regular file succeeded")
	}
	if !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("err = %v; want one saying %s is not a directory", err, file)
	}
}

func TestListenUnix_RejectsAPathTooLongForASocket(t *testing.T) {
	path := filepath.Join(socketDir(t), strings.Repeat("s", 200))
	ln, err := fanout.ListenUnix(path, 0o600)
	if err == nil {
		_ = ln.Close()
		t.Fatal("ListenUnix with a 200-byte name succeeded")
	}
	if !strings.Contains(err.Error(), "can be at most") {
		t.Errorf("err = %v; want one about the length", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was created at the too-long path: %v", err)
	}
}

func TestListenUnix_RejectsAModeWithMoreThanPermissions(t *testing.T) {
	path := filepath.Join(socketDir(t), "s.sock")
	ln, err := fanout.ListenUnix(path, os.ModeSetuid|0o600)
	if err == nil {
		_ = ln.Close()
		t.Fatal("ListenUnix with a setuid mode succeeded")
	}
}
