package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startUpstream starts the upstream nats-server in this process, on
// loopback with a client port and a leaf node port, and returns it with the
// URL leaf nodes connect to.
func startUpstream() (*server.Server, string, error) {
	leafPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort},
	})
	if err != nil {
		return nil, "", fmt.Errorf("cannot create upstream nats-server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, "", fmt.Errorf("upstream nats-server not ready")
	}
	return s, fmt.Sprintf("nats-leaf://127.0.0.1:%d", leafPort), nil
}

// outBytes returns the bytes upstream s has sent, by its own statistics.
func outBytes(s *server.Server) (int64, error) {
	v, err := s.Varz(nil)
	if err != nil {
		return 0, err
	}
	return v.OutBytes, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// upstreamStats is what the publish section reads off the upstream before
// and after a burst, to tell where messages that did not arrive were lost.
type upstreamStats struct {
	inMsgs        int64  // messages it received, from clients and leaf nodes
	slowConsumers int64  // connections it closed as slow consumers
	leafIDs       string // its leaf node connections' ids: a change is a reconnect
}

func statsOf(s *server.Server) (upstreamStats, error) {
	v, err := s.Varz(nil)
	if err != nil {
		return upstreamStats{}, err
	}
	l, err := s.Leafz(nil)
	if err != nil {
		return upstreamStats{}, err
	}
	var ids []string
	for _, leaf := range l.Leafs {
		ids = append(ids, strconv.FormatUint(leaf.ID, 10))
	}
	return upstreamStats{inMsgs: v.InMsgs, slowConsumers: v.SlowConsumers, leafIDs: strings.Join(ids, ",")}, nil
}
