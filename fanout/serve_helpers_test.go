package fanout

import (
	"path/filepath"
	"testing"
)

// serveHub serves a new hub of patterns on a Unix socket in a temporary
// directory, until the test ends, and returns the server and the socket's
// path.
func serveHub(tb testing.TB, patterns []string, cfg ServerConfig) (*Server, string) {
	tb.Helper()
	hub, err := NewHub(patterns)
	if err != nil {
		tb.Fatal(err)
	}
	srv := NewServer(hub, cfg, nil)
	path := filepath.Join(tb.TempDir(), "s.sock")
	ln, err := ListenUnix(path, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() {
		srv.Close()
		hub.Close()
	})
	return srv, path
}
