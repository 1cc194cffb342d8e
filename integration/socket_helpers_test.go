package integration

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// socketSidecar is the sidecar with its socket server: consumers connect to
// path (a Unix socket) or tcp (a loopback TCP address) with nats.go.
type socketSidecar struct {
	*sidecar
	srv  *fanout.Server
	path string
	tcp  string
}

// startSocketSidecar starts the sidecar on upstream url with a socket
// server serving a Unix socket in a temporary directory and a loopback TCP
// port.
func startSocketSidecar(t testing.TB, url string, patterns []string, cfg fanout.ServerConfig, opts ...fanout.Option) *socketSidecar {
	t.Helper()
	return serveSocket(t, startSidecar(t, url, patterns, opts...), cfg)
}

// startPodSidecar is startSocketSidecar with the ingester as the server's
// Upstream: clients publish, request and subscribe to any subject through
// it, as natsfan's binary serves them.
func startPodSidecar(t testing.TB, url string, patterns []string, cfg fanout.ServerConfig, opts ...fanout.Option) *socketSidecar {
	t.Helper()
	sc := startSidecar(t, url, patterns, opts...)
	cfg.Upstream = sc.in
	return serveSocket(t, sc, cfg)
}

// startPodSidecarWith is startPodSidecar with the ingester's whole
// configuration (reconnect policy, a dialer of the test's own).
func startPodSidecarWith(t testing.TB, in ingest.Config, patterns []string, cfg fanout.ServerConfig, opts ...fanout.Option) *socketSidecar {
	t.Helper()
	sc := startSidecarWith(t, in, patterns, opts...)
	cfg.Upstream = sc.in
	return serveSocket(t, sc, cfg)
}

// serveSocket starts a socket server for sc.
func serveSocket(t testing.TB, sc *sidecar, cfg fanout.ServerConfig) *socketSidecar {
	t.Helper()
	srv := fanout.NewServer(sc.hub, cfg, zaptest.NewLogger(t))
	path := filepath.Join(t.TempDir(), "natsfan.sock")
	unixLn, err := fanout.ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(unixLn)
	go srv.Serve(tcpLn)
	t.Cleanup(srv.Close)
	return &socketSidecar{sidecar: sc, srv: srv, path: path, tcp: "nats://" + tcpLn.Addr().String()}
}

// unixDialer makes nats.go dial a Unix socket whatever the URL says.
type unixDialer struct{ path string }

func (d unixDialer) Dial(_, _ string) (net.Conn, error) {
	return net.DialTimeout("unix", d.path, 2*time.Second)
}

// dialSocket connects a stock nats.go client to the sidecar's Unix socket,
// closing it when the test ends.
func dialSocket(t testing.TB, path string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("nats://localhost", append([]nats.Option{nats.SetCustomDialer(unixDialer{path})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
