package integration

// Differential scenarios with the nats CLI (natscli): the commands a user
// types against nats-server, typed against natsfan instead. The CLI dials
// TCP, so it uses tg.URL (natsfan's NATSFAN_LISTEN). CI installs the CLI
// (.ci/run); elsewhere these scenarios are skipped when `nats` is not on
// PATH.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// natsCLIVersion is the natscli .ci/run installs.
const natsCLIVersion = "v0.5.1"

// natsCLI returns the path of the nats CLI, or skips the test.
func natsCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nats")
	if err != nil {
		t.Skip("the nats CLI is not on PATH, so its scenarios are not run; install it with go install github.com/nats-io/natscli/nats@" + natsCLIVersion + " (.ci/run does)")
	}
	return path
}

// TestCIInstallsTheNatsCLIOfTheScenarios: the version .ci/run installs is
// the one named here, which the skip message tells others to install.
func TestCIInstallsTheNatsCLIOfTheScenarios(t *testing.T) {
	run, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "github.com/nats-io/natscli/nats@" + natsCLIVersion; !strings.Contains(string(run), want) {
		t.Errorf(".ci/run does not install %s", want)
	}
}

// cli runs the nats CLI against url and returns what it wrote to stdout,
// or its error with what it wrote to stderr. The user's own CLI contexts
// are kept out of it.
func cli(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, natsCLI(t), append([]string{"-s", url}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &cliError{err: err, stderr: stderr.String()}
	}
	return string(out), nil
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

// mustCLI is cli that fails the test on error.
func mustCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, err := cli(t, url, args...)
	if err != nil {
		t.Fatalf("nats %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestDifferential_NatsCLIRequestAndReply(t *testing.T) {
	natsCLI(t)
	type observed struct {
		Reply         string // nats req's answer from a nats.go responder in the pod
		Served        string // what a nats reply in the pod answered a requester elsewhere
		NoResponders  bool   // nats req to a subject nobody serves says so
		ServiceList   []string
		ServicePinged bool
	}
	differential(t, diffOptions{Subjects: "orders.>"}, func(t *testing.T, tg *diffTarget) observed {
		var obs observed
		responder := tg.Connect(t)
		if _, err := responder.Subscribe("demo.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("echo "), m.Data...)) }); err != nil {
			t.Fatal(err)
		}
		if err := responder.Flush(); err != nil {
			t.Fatal(err)
		}
		obs.Reply = strings.TrimSpace(mustCLI(t, tg.URL, "req", "demo.echo", "hi", "--raw"))

		// nats reply through the target; a requester straight on upstream.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		reply := exec.CommandContext(ctx, natsCLI(t), "-s", tg.URL, "reply", "demo.ping", "pong", "--count", "1")
		reply.Env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
		output, w := io.Pipe() // it says it is listening on stderr
		reply.Stdout, reply.Stderr = w, w
		if err := reply.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); _ = reply.Wait(); w.Close() })
		listening := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(output)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "Listening on") {
					close(listening)
					break
				}
			}
			for sc.Scan() {
			}
		}()
		select {
		case <-listening:
		case <-time.After(20 * time.Second):
			t.Fatal("nats reply did not say it was listening")
		}
		// Its subscription reaches upstream an instant later than it says.
		var m *nats.Msg
		var err error
		waitFor(t, "nats reply to answer a request from upstream", func() bool {
			m, err = tg.Pub.Request("demo.ping", nil, time.Second)
			return err == nil
		})
		obs.Served = string(m.Data)

		_, err = cli(t, tg.URL, "req", "nobody.home", "hi")
		obs.NoResponders = err != nil && strings.Contains(strings.ToLower(err.Error()), "no responders")

		svc, err := micro.AddService(tg.Connect(t), micro.Config{Name: "quotes", Version: "1.0.0",
			Endpoint: &micro.EndpointConfig{Subject: "demo.quote", Handler: micro.HandlerFunc(func(r micro.Request) { _ = r.Respond([]byte("1.08")) })}})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		var list []struct {
			Name string `json:"name"`
		}
		waitFor(t, "nats micro list to find the service", func() bool {
			out, err := cli(t, tg.URL, "micro", "list", "--json")
			return err == nil && json.Unmarshal([]byte(out), &list) == nil && len(list) > 0
		})
		for _, s := range list {
			obs.ServiceList = append(obs.ServiceList, s.Name)
		}
		out, err := cli(t, tg.URL, "req", "demo.quote", "", "--raw")
		obs.ServicePinged = err == nil && strings.TrimSpace(out) == "1.08"
		return obs
	})
}

func TestDifferential_NatsCLIJetStream(t *testing.T) {
	natsCLI(t)
	type observed struct {
		Streams  []string
		Messages uint64
		Value    string
		Keys     []string
		Consumed []string
	}
	jetStream := func(o *server.Options) { o.JetStream = true }
	differential(t, diffOptions{Subjects: "orders.>", Upstream: jetStream}, func(t *testing.T, tg *diffTarget) observed {
		var obs observed
		mustCLI(t, tg.URL, "stream", "add", "EVENTS", "--subjects", "events.>", "--storage", "memory", "--defaults")
		for _, body := range []string{"one", "two", "three"} {
			mustCLI(t, tg.URL, "pub", "events.new", body, "--jetstream")
		}
		obs.Streams = strings.Fields(mustCLI(t, tg.URL, "stream", "ls", "--names"))
		var info struct {
			State struct {
				Msgs uint64 `json:"messages"`
			} `json:"state"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, tg.URL, "stream", "info", "EVENTS", "--json")), &info); err != nil {
			t.Fatal(err)
		}
		obs.Messages = info.State.Msgs

		mustCLI(t, tg.URL, "consumer", "add", "EVENTS", "reader", "--pull", "--defaults")
		out := mustCLI(t, tg.URL, "consumer", "next", "EVENTS", "reader", "--count", "3", "--raw")
		obs.Consumed = strings.Fields(out)

		mustCLI(t, tg.URL, "kv", "add", "config")
		mustCLI(t, tg.URL, "kv", "put", "config", "color", "blue")
		mustCLI(t, tg.URL, "kv", "put", "config", "size", "xl")
		obs.Value = strings.TrimSpace(mustCLI(t, tg.URL, "kv", "get", "config", "color", "--raw"))
		obs.Keys = strings.Fields(mustCLI(t, tg.URL, "kv", "ls", "config"))
		slices.Sort(obs.Keys)
		return obs
	})
}
