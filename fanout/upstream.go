package fanout

import (
	"context"

	"github.com/nats-io/nats.go"
)

// Upstream is the NATS connection a Server passes through what it does not
// buffer, as a leaf node passes it to its hub: its clients' publishes and
// requests, and subscriptions to subjects outside the hub's streams, made
// when the first local client asks and ended when the last one leaves.
// ingest.Ingester implements it over natsfan's one upstream connection.
//
// Everything a Server sends goes over the one connection, in the order of
// the calls, so a client's SUB reaches upstream before the PUB it sends
// next, and its publishes arrive in its order.
type Upstream interface {
	// Publish sends a message upstream. It may block while the connection
	// cannot take more (that is how a fast publisher is slowed down), and
	// fails when the message cannot be sent or held for a reconnect.
	Publish(subject, reply string, header nats.Header, data []byte) error

	// Subscribe subscribes upstream to subject, in queue group queue
	// unless it is "", and calls deliver with each message, one at a
	// time and in order, from a goroutine of the Upstream's. deliver must
	// not block. End the subscription with the returned function.
	Subscribe(subject, queue string, deliver func(*Msg)) (unsubscribe func(), err error)

	// Flush returns once upstream has processed everything sent before
	// it (a round trip), or ctx ends.
	Flush(ctx context.Context) error

	// Connected reports whether the connection is up now.
	Connected() bool

	// ServerInfo returns what the INFO of the upstream server last
	// connected to said; the zero UpstreamInfo before the first connection.
	ServerInfo() UpstreamInfo

	// OnViolation registers f, to be called with the text of every
	// permissions violation upstream sends about what was published or
	// subscribed through the Upstream (such as `Permissions Violation for
	// Publish to "orders.new"`), from a goroutine of the Upstream's.
	OnViolation(f func(text string))
}

// UpstreamInfo is what a Server tells its clients of the upstream server in
// its own INFO: clients judge by it what the server they talk to can do.
type UpstreamInfo struct {
	Version    string // its version
	MaxPayload int    // the largest payload it takes
	JetStream  bool   // whether it has JetStream, which natsfan passes through
	JSAPILevel int    // the level of its JetStream API (api_lvl); 0 if it does not say
	// The account the upstream connection is bound to, which is the
	// account of everything natsfan's clients do: "" until upstream has
	// said, and whether it is the system account.
	Account       string
	SystemAccount bool
}
