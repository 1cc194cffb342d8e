package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

const (
	benchSubjects = "bench.>" // what the sidecar ingests
	benchSubject  = "bench.x" // what the publisher publishes on and consumers subscribe to
)

// A mode is one way of delivering the upstream's messages to N consumers:
// natsfan's, or a peer's that natsfan is compared with.
type mode struct {
	name  string
	start func(e *env) (*target, error)
	// connect starts the endpoint stock nats.go clients of this mode
	// connect to, for the publish and request sections; nil for
	// natsfan-inproc, which has no clients of its own.
	connect func(e *env) (*endpoint, error)
	// peer is set for the modes that are not natsfan (direct subscribers,
	// a leaf node). The smoke test does not judge what they lose: a leaf
	// node may drop messages on a busy machine, as documented.
	peer bool
}

// env is what a mode starts from: a fresh upstream for the cell, the natsfan
// binary, a directory for sockets, and whether to profile.
type env struct {
	upstream *server.Server
	leafURL  string // the upstream's leaf node URL
	natsfan  sidecar
	dir      string
	pprof    bool // serve pprof from the sidecar
}

// target is a started mode: attach consumers to it, measure proc (the leaf
// node or sidecar, nil when there is none to measure), then close it.
// cutOff counts the consumers whose connection or subscription has ended,
// such as slow consumers the server cut off.
type target struct {
	proc   *child
	attach func(c *consumer) error
	cutOff func() int
	close  func()
}

var modes = []mode{
	{name: "direct", start: startVia(directEndpoint), connect: directEndpoint, peer: true},
	{name: "leaf", start: startVia(leafEndpoint), connect: leafEndpoint, peer: true},
	{name: "natsfan-socket", start: startVia(socketEndpoint), connect: socketEndpoint},
	{name: "natsfan-inproc", start: startInproc},
}

// An endpoint is where a mode's nats.go clients connect: the upstream
// itself, a leaf node in front of it, or the sidecar's socket. Stop it with
// close.
type endpoint struct {
	proc *child // the leaf node or sidecar, to measure; nil for direct
	// dial connects one nats.go client, with opts added to the endpoint's
	// own.
	dial func(opts ...nats.Option) (*nats.Conn, error)
}

func (ep *endpoint) close() {
	if ep.proc != nil {
		ep.proc.stop()
	}
}

func directEndpoint(e *env) (*endpoint, error) {
	url := e.upstream.ClientURL()
	return &endpoint{dial: func(opts ...nats.Option) (*nats.Conn, error) { return nats.Connect(url, opts...) }}, nil
}

func leafEndpoint(e *env) (*endpoint, error) {
	leaf, url, err := startLeafNode(e.upstream, e.leafURL)
	if err != nil {
		return nil, err
	}
	return &endpoint{proc: leaf, dial: func(opts ...nats.Option) (*nats.Conn, error) { return nats.Connect(url, opts...) }}, nil
}

func socketEndpoint(e *env) (*endpoint, error) {
	sc, sock, err := startSidecar(e.natsfan, e.upstream.ClientURL(), e.dir, e.pprof)
	if err != nil {
		return nil, err
	}
	return &endpoint{proc: sc, dial: func(opts ...nats.Option) (*nats.Conn, error) { return dialSocket(sock, opts...) }}, nil
}

// startEndpoint starts a fresh upstream and, in front of it, mode's
// endpoint. Stop both, the endpoint first.
func startEndpoint(m mode, sc sidecar, dir string) (*server.Server, *endpoint, error) {
	if m.connect == nil {
		return nil, nil, fmt.Errorf("mode %s has no endpoint for clients", m.name)
	}
	up, leafURL, err := startUpstream()
	if err != nil {
		return nil, nil, err
	}
	ep, err := m.connect(&env{upstream: up, leafURL: leafURL, natsfan: sc, dir: dir})
	if err != nil {
		up.Shutdown()
		return nil, nil, err
	}
	return up, ep, nil
}

// dialSocket connects a stock nats.go client to the sidecar's socket.
func dialSocket(sock string, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect("nats://localhost", append([]nats.Option{nats.SetCustomDialer(unixDialer{sock})}, opts...)...)
}

// startVia is the start of a mode whose consumers are clients of the
// endpoint connect starts.
func startVia(connect func(e *env) (*endpoint, error)) func(e *env) (*target, error) {
	return func(e *env) (*target, error) {
		ep, err := connect(e)
		if err != nil {
			return nil, err
		}
		return natsTarget(ep), nil
	}
}

// natsTarget is a target whose consumers are nats.go connections to ep,
// each with one subscription to benchSubject without pending limits.
func natsTarget(ep *endpoint) *target {
	var conns []*nats.Conn
	t := &target{proc: ep.proc}
	t.attach = func(c *consumer) error {
		nc, err := ep.dial()
		if err != nil {
			return err
		}
		conns = append(conns, nc)
		sub, err := nc.Subscribe(benchSubject, func(m *nats.Msg) { c.receive(m.Data) })
		if err != nil {
			return err
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return err
		}
		return nc.Flush()
	}
	t.cutOff = func() int {
		n := 0
		for _, nc := range conns {
			if nc.IsClosed() {
				n++
			}
		}
		return n
	}
	t.close = func() {
		for _, nc := range conns {
			nc.Close()
		}
		ep.close()
	}
	return t
}

// startInproc runs the hub and ingester in this process, with the hub's
// defaults; each consumer is a goroutine reading a hub subscription.
func startInproc(e *env) (*target, error) {
	hub, err := fanout.NewHub([]string{benchSubjects})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := ingest.New(ingest.Config{URLs: []string{e.upstream.ClientURL()}}, hub.Streams(), zap.NewNop())
	if err := in.Start(ctx); err != nil {
		cancel()
		hub.Close()
		return nil, fmt.Errorf("cannot start ingest: %w", err)
	}
	var (
		wg    sync.WaitGroup
		ended atomic.Int64
	)
	t := &target{cutOff: func() int { return int(ended.Load()) }}
	t.attach = func(c *consumer) error {
		sub, err := hub.Subscribe(ctx, benchSubject)
		if err != nil {
			return err
		}
		wg.Go(func() {
			defer sub.Close()
			for {
				msg, err := sub.Next(ctx)
				if errors.Is(err, fanout.ErrGap) {
					continue // what was skipped counts as lost
				}
				if err != nil {
					ended.Add(1)
					if ctx.Err() == nil && !errors.Is(err, fanout.ErrHubClosed) {
						fmt.Fprintf(os.Stderr, "natsfan-inproc consumer: %v\n", err)
					}
					return
				}
				c.receive(msg.Data())
			}
		})
		return nil
	}
	t.close = func() {
		cancel()
		in.Close()
		hub.Close()
		wg.Wait()
	}
	return t, nil
}
