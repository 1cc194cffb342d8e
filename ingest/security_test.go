package ingest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap/zaptest/observer"

	"github.com/natsfan/natsfan/ingest"
)

const password = "s3cret-pw-do-not-log"

// authOptions configures a server where user natsfan, with natsfanPassword,
// may subscribe to orders.> only, and user pub may publish anything.
func authOptions(natsfanPassword string) *server.Options {
	return &server.Options{Users: []*server.User{
		{Username: "natsfan", Password: natsfanPassword, Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{"orders.>"}},
		}},
		{Username: "pub", Password: "pub"},
	}}
}

func authServer(t *testing.T) *server.Server {
	return startServer(t, -1, authOptions(password))
}

func TestIngester_Ready_ReportsASubscriptionUpstreamRefuses(t *testing.T) {
	srv := authServer(t)
	hub := newHub(t, "orders.>", "secret.>")
	url := fmt.Sprintf("nats://natsfan:%s@127.0.0.1:%d", password, port(srv))
	in, logs := newIngester(t, url, hub, ingest.Config{})

	waitFor(t, 10*time.Second, "the refusal to be logged", func() bool {
		return len(logged(logs, "upstream refused the subscription")) > 0
	})
	err := in.Ready()
	if want := `ingest: subscription to "secret.>" not active`; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), `"orders.>"`) {
		t.Errorf("Ready() = %v, want only %s", err, want)
	}
	st := in.Stats()
	if !st.Streams[0].Active || st.Streams[1].Active {
		t.Errorf("Stats().Streams = %+v, want orders.> active, secret.> not", st.Streams)
	}
	// The permitted stream works.
	pub := connect(t, fmt.Sprintf("nats://pub:pub@127.0.0.1:%d", port(srv)))
	publish(t, pub, numbered("orders.x", 1, 3)...)
	newReader(t, hub, "orders.>").next(3, 10*time.Second)

	if got := logged(logs, "upstream refused the subscription"); len(got) != 1 || got[0].ContextMap()["pattern"] != "secret.>" {
		t.Errorf("refusal logged as %v, want one line for secret.>", got)
	}
	assertNoSecret(t, logs)
	if e := logged(logs, "ingesting from upstream"); len(e) != 1 || !strings.Contains(fmt.Sprint(e[0].ContextMap()["urls"]), "redacted@127.0.0.1") {
		t.Errorf("start logged as %v, want the URL with its user information redacted", e)
	}
}

func TestIngester_WrongCredentialsAreLoggedAndReportedNotFatal(t *testing.T) {
	srv := authServer(t)
	hub := newHub(t, "orders.>")
	url := fmt.Sprintf("nats://natsfan:wrong-%s@127.0.0.1:%d", password, port(srv))
	in, logs := newIngester(t, url, hub, ingest.Config{ReconnectWait: 20 * time.Millisecond})

	waitFor(t, 10*time.Second, "Ready to report the authorization error", func() bool {
		err := in.Ready()
		return errors.Is(err, ingest.ErrNotConnected) && strings.Contains(strings.ToLower(err.Error()), "authorization violation")
	})
	waitFor(t, 10*time.Second, "the failure to be logged", func() bool {
		return len(logged(logs, "cannot connect to upstream")) > 0
	})
	e := logged(logs, "cannot connect to upstream")
	if len(e) != 1 || !strings.Contains(strings.ToLower(fmt.Sprint(e[0].ContextMap()["error"])), "authorization violation") {
		t.Errorf("failure logged as %v, want one line with the authorization violation", e)
	}

	// nats.go has not given up: once the server accepts the password,
	// natsfan connects.
	o := authOptions("wrong-" + password)
	o.Host, o.Port, o.NoSigs, o.NoLog = "127.0.0.1", port(srv), true, true
	if err := srv.ReloadOptions(o); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "Ready once the credentials are accepted", func() bool { return in.Ready() == nil })
	if n := len(logged(logs, "closed by nats.go")); n != 0 {
		t.Errorf("nats.go closed the connection")
	}
	assertNoSecret(t, logs)
}

// assertNoSecret fails the test if a log line shows the password.
func assertNoSecret(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	for _, e := range logs.All() {
		if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, password) {
			t.Errorf("log line shows the password: %s", line)
		}
	}
}
