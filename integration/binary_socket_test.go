package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestBinary_SocketConsumerReconnectsAfterTheSidecarRestarts runs the
// binary against an upstream server, with a stock nats.go consumer on its
// socket. The sidecar stops (SIGTERM: exit 0, socket file removed) and a new
// one starts on the same path: the consumer reconnects, resubscribes, and
// receives what is published afterwards.
func TestBinary_SocketConsumerReconnectsAfterTheSidecarRestarts(t *testing.T) {
	up := startServer(t, -1)
	sock := filepath.Join(t.TempDir(), "run", "natsfan.sock") // the directory is created
	env := []string{
		"NATSFAN_NATS_URL=" + up.ClientURL(),
		"NATSFAN_SUBJECTS=events.>",
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SOCKET=" + sock,
		"NATSFAN_SHUTDOWN_TIMEOUT=5s",
	}
	first := startNatsfan(t, env...)
	first.waitLog(t, "natsfan started")

	reconnected := make(chan struct{}, 1)
	consumer := dialSocket(t, sock,
		nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	sub, err := consumer.SubscribeSync("events.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := connect(t, up.ClientURL())
	publishUntilReceived(t, pub, sub, "events.first")

	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := first.exitCode(t, 10*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the socket file is still there after a clean shutdown: %v", err)
	}

	second := startNatsfan(t, env...)
	second.waitLog(t, "natsfan started")
	select {
	case <-reconnected:
	case <-time.After(20 * time.Second):
		t.Fatal("the consumer did not reconnect to the new sidecar")
	}
	publishUntilReceived(t, pub, sub, "events.second")
}

// publishUntilReceived publishes on subject until sub receives a message
// on it: a subscription just made (or remade after a reconnect) reaches the
// sidecar and the sidecar's own subscription reaches upstream a little
// later, with no event to wait for from here.
func publishUntilReceived(t *testing.T, pub *nats.Conn, sub *nats.Subscription, subject string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		publishAll(t, pub, msg(subject, i))
		m, err := sub.NextMsg(100 * time.Millisecond)
		if err == nil && m.Subject == subject {
			return
		}
	}
	t.Fatalf("no message on %s arrived", subject)
}
