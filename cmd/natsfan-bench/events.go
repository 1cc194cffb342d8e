package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// clientEvents counts what nats.go tells the clients of a cell outside the
// calls they make: asynchronous errors from the server (a permissions
// violation, say), disconnects, and errors the measuring code met. Its
// methods are safe for concurrent use.
type clientEvents struct {
	mu          sync.Mutex
	errs        int
	first       error
	disconnects int
}

// options are the nats.go options that report a client's events to e.
func (e *clientEvents) options() []nats.Option {
	return []nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { e.failed(err) }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) {
			e.mu.Lock()
			e.disconnects++
			e.mu.Unlock()
		}),
	}
}

// disconnected reports whether a client has lost its connection.
func (e *clientEvents) disconnected() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.disconnects > 0
}

func (e *clientEvents) failed(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs++
	if e.first == nil {
		e.first = err
	}
}

// String says what happened, such as `2 errors (the first: nats:
// permissions violation …), 1 disconnect`, or "" if nothing did. Closing
// the connections at the end of a cell is not counted, as it happens after
// the cell has read its events.
func (e *clientEvents) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	if e.errs > 0 {
		out = append(out, fmt.Sprintf("%d error%s (the first: %v)", e.errs, plural(e.errs), e.first))
	}
	if e.disconnects > 0 {
		out = append(out, fmt.Sprintf("%d disconnect%s", e.disconnects, plural(e.disconnects)))
	}
	return joinWhy(out)
}

// err returns String as an error, or nil if nothing happened.
func (e *clientEvents) err() error {
	if s := e.String(); s != "" {
		return errors.New(s)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// joinWhy joins the parts of a why column.
func joinWhy(parts []string) string { return strings.Join(parts, "; ") }
