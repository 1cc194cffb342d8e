package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
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

// leafReady starts the line the leaf node prints, with its client URL and
// its monitoring address, once it serves clients and is connected to the
// upstream.
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
		HTTPHost: "127.0.0.1", HTTPPort: -1, // for its slow consumer count
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
	fmt.Println(leafReady + s.ClientURL() + " " + s.MonitorAddr().String())
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
	f := strings.Fields(line[strings.Index(line, leafReady)+len(leafReady):])
	if len(f) != 2 {
		c.stop()
		return nil, "", fmt.Errorf("cannot read the leaf node's ready line %q", line)
	}
	clientURL := f[0]
	c.varz = "http://" + f[1] + "/varz"
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

// leafSlowConsumers returns how many slow consumers leaf node c has
// closed, such as its own connection to the upstream when clients publish
// faster than it can forward: what it then drops, nobody else sees.
func leafSlowConsumers(c *child) (int64, error) {
	resp, err := http.Get(c.varz)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		SlowConsumers int64 `json:"slow_consumers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, fmt.Errorf("cannot read the leaf node's /varz: %w", err)
	}
	return v.SlowConsumers, nil
}
