package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// leafRole is the hidden first argument that makes this program run as the
// leaf node: `natsfan-bench leaf-node --upstream nats-leaf://HOST:PORT`.
const leafRole = "leaf-node"

// leafReady starts the line the leaf node prints, with its client URL, once
// it serves clients and is connected to the upstream.
const leafReady = "leaf-node ready "

// runLeafNode runs an embedded nats-server on loopback as a leaf node of the
// upstream until SIGTERM or SIGINT.
func runLeafNode(args []string) error {
	fs := flag.NewFlagSet(leafRole, flag.ContinueOnError)
	upstream := fs.String("upstream", "", "leaf node URL of the upstream server")
	port := fs.Int("port", -1, "client port on 127.0.0.1; -1 picks a free one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*upstream)
	if err != nil || *upstream == "" {
		return fmt.Errorf("bad --upstream %q", *upstream)
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: *port, NoSigs: true, NoLog: true,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}},
	})
	if err != nil {
		return err
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		return errors.New("leaf node not ready for connections")
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.NumLeafNodes() == 0 {
		if time.Now().After(deadline) {
			return errors.New("leaf node not connected to the upstream")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(leafReady + s.ClientURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

// startLeafNode starts this program in its leaf node role as a child, and
// returns it with the URL its clients connect to.
func startLeafNode(upstream *server.Server, leafURL string) (*child, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, leafRole, "--upstream", leafURL)
	c, line, err := startChild("leaf node", cmd, leafReady, 20*time.Second)
	if err != nil {
		return nil, "", err
	}
	clientURL := strings.TrimSpace(line[strings.Index(line, leafReady)+len(leafReady):])
	deadline := time.Now().Add(10 * time.Second)
	for upstream.NumLeafNodes() == 0 {
		if time.Now().After(deadline) {
			c.stop()
			return nil, "", errors.New("the upstream does not see the leaf node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c, clientURL, nil
}
