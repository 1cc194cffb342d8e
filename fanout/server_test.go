package fanout

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// failingListener is a listener whose Accept keeps failing with a
// temporary error, as one out of file descriptors does.
type failingListener struct {
	accepts atomic.Int32
	closed  chan struct{}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "accept: resource temporarily unavailable" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (l *failingListener) Accept() (net.Conn, error) {
	l.accepts.Add(1)
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
		return nil, timeoutError{}
	}
}

func (l *failingListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

func (l *failingListener) Addr() net.Addr { return &net.UnixAddr{Name: "failing", Net: "unix"} }

// TestServer_CloseEndsTheAcceptBackOff: Serve backs off from failing
// accepts, up to a second between tries; Close must not wait for the
// back-off to end.
func TestServer_CloseEndsTheAcceptBackOff(t *testing.T) {
	hub, err := NewHub([]string{">"})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	srv := NewServer(hub, ServerConfig{}, nil)
	ln := &failingListener{closed: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// 5 ms, doubling: from the 9th failure on, Serve waits a whole second.
	deadline := time.Now().Add(20 * time.Second)
	for ln.accepts.Load() < 9 {
		if time.Now().After(deadline) {
			t.Fatalf("Serve tried to accept %d times", ln.accepts.Load())
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
	closed := time.Now()
	srv.Close()
	select {
	case err := <-served:
		if err != ErrServerClosed {
			t.Fatalf("Serve returned %v, want ErrServerClosed", err)
		}
		if waited := time.Since(closed); waited > 900*time.Millisecond {
			t.Fatalf("Serve returned %v after Close: it waited for its back-off", waited)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}
