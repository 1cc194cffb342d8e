package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// The texts nats-server v2.15 puts in its -ERR lines, word for word. Send
// one with [AppendErr]. Clients match some of them (lower-cased, sometimes
// by prefix), so they must not be reworded.
const (
	// TextUnknownOp answers a verb the server does not know and bytes other
	// than "\r\n" after a payload; the connection is then closed
	// (server/parser.go, parseErr). nats.go reconnects.
	TextUnknownOp = "Unknown Protocol Operation"

	// TextMaxControlLine answers a control line longer than the limit; the
	// connection is then closed. nats-server sends the text of its
	// ErrMaxControlLine (server/errors.go), lower case, although it calls
	// the close reason "Maximum Control Line Exceeded" in its monitoring
	// output. nats.go closes for good, without reconnecting.
	TextMaxControlLine = "maximum control line exceeded"

	// TextMaxPayload answers a PUB or HPUB that declares more than the
	// maximum payload; the connection is then closed
	// (server/client.go, maxPayloadViolation).
	TextMaxPayload = "Maximum Payload Violation"

	// TextInvalidSubject answers a SUB whose subject is not a valid pattern.
	// The connection stays open (server/client.go, processSubEx).
	TextInvalidSubject = "Invalid Subject"

	// TextInvalidPublishSubject answers a PUB or HPUB to a subject with a
	// wildcard or an empty token from a client in pedantic mode. The
	// connection stays open, and the message is published all the same
	// (server/client.go, processPub).
	TextInvalidPublishSubject = "Invalid Publish Subject"

	// TextStaleConnection is sent when the client has not answered the
	// server's PINGs; the connection is then closed (server/client.go,
	// processPingTimer). nats.go reconnects.
	TextStaleConnection = "Stale Connection"

	// TextAuthTimeout is sent when no CONNECT arrived in time; the
	// connection is then closed (server/client.go, authTimeout).
	TextAuthTimeout = "Authentication Timeout"

	// TextMaxConnections is sent to a connection over the server's limit,
	// which is then closed: the text of nats-server's ErrTooManyConnections
	// (server/errors.go).
	TextMaxConnections = "maximum connections exceeded"

	// TextMaxSubscriptions answers a SUB over the connection's limit; the
	// connection stays open: the text of nats-server's ErrTooManySubs
	// (server/errors.go, sent by client.go, maxSubsExceeded).
	TextMaxSubscriptions = "maximum subscriptions exceeded"

	// TextBadClientProtocol answers a CONNECT whose "protocol" is neither 0
	// nor 1; the connection is then closed: nats-server's
	// ErrBadClientProtocol (server/errors.go).
	TextBadClientProtocol = "invalid client protocol"

	// TextNoRespondersRequiresHeaders answers a CONNECT that asks for
	// no_responders without headers; the connection is then closed:
	// nats-server's ErrNoRespondersRequiresHeaders (server/errors.go).
	TextNoRespondersRequiresHeaders = "no responders requires headers support"

	// TextInvalidHeader answers an HPUB whose headers do not start with
	// the NATS/1.0 line; the connection is then closed. It is natsfan's
	// own: nats-server passes headers on as bytes, where natsfan reads
	// them to publish the message upstream.
	TextInvalidHeader = "Invalid Message Header"
)

// nats-server sends no -ERR to a slow consumer: it closes the connection,
// and clients reconnect. An -ERR text nats.go does not recognise, such as
// "Slow Consumer", would make it close the connection for good.

// SubscribeViolation returns the -ERR text nats-server sends when a client
// may not subscribe to subject (with queue group queue, if not empty), for
// example
//
//	Permissions Violation for Subscription to "orders.>"
//	Permissions Violation for Subscription to "orders.>" using queue "workers"
//
// The connection stays open. nats.go finds the subject and queue in the text
// and hands the error to the matching Subscription
// (server/client.go, subPermissionViolation).
func SubscribeViolation(subject, queue string) string {
	if queue != "" {
		return fmt.Sprintf("Permissions Violation for Subscription to %q using queue %q", subject, queue)
	}
	return fmt.Sprintf("Permissions Violation for Subscription to %q", subject)
}

// PublishViolation returns the -ERR text nats-server sends when a client may
// not publish to subject:
//
//	Permissions Violation for Publish to "orders.new"
//
// The connection stays open (server/client.go, pubPermissionViolation).
func PublishViolation(subject string) string {
	return "Permissions Violation for Publish to " + strconv.Quote(subject)
}

// Sentinel errors wrapped by [*ProtocolError]. Branch on them with
// [errors.Is].
var (
	// ErrUnknownOp means bytes that are not a client protocol operation:
	// an unknown verb, a verb not followed by a blank where one is needed,
	// or a payload not followed by "\r\n".
	ErrUnknownOp = errors.New("protocol: unknown protocol operation")
	// ErrMaxControlLine means a control line longer than the limit.
	ErrMaxControlLine = errors.New("protocol: maximum control line exceeded")
	// ErrMaxPayload means a PUB or HPUB declaring more than the limit.
	ErrMaxPayload = errors.New("protocol: maximum payload exceeded")
	// ErrMalformed means a known verb with arguments that do not fit it:
	// too few or too many, or a size that is not a decimal number.
	ErrMalformed = errors.New("protocol: malformed arguments")
	// ErrBadConnect means a CONNECT that cannot be decoded or asks for
	// something the server cannot do.
	ErrBadConnect = errors.New("protocol: bad CONNECT")
	// ErrNoHeaders means an HPUB from a client that has not said it
	// handles headers ([Parser.NoHeaders]).
	ErrNoHeaders = errors.New("protocol: message headers not supported")
)

// A ProtocolError is input nats-server would answer by closing the
// connection. Send "-ERR '<Text>'" with [AppendErr] if Text is not empty,
// then close.
type ProtocolError struct {
	// Err is one of the package's sentinel errors.
	Err error
	// Text is what nats-server writes in its -ERR line before it closes the
	// connection, or "" if it closes without one.
	Text string
	// Detail says what was wrong, for logs. It may quote a bounded snippet
	// of the input.
	Detail string
}

// Error returns the sentinel's message and the detail, for example
//
//	protocol: malformed arguments: PUB wants 2 or 3 arguments, got 1 in "foo"
func (e *ProtocolError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel error, so that errors.Is(err, ErrMaxPayload)
// and friends work.
func (e *ProtocolError) Unwrap() error { return e.Err }

// snippetLen bounds how much input an error quotes, as nats-server's
// PROTO_SNIPPET_SIZE and MAX_CONTROL_LINE_SNIPPET_SIZE do.
const snippetLen = 64

// snippet quotes at most snippetLen bytes of b, marking a cut with "...".
func snippet(b []byte) string {
	if len(b) > snippetLen {
		return strconv.Quote(string(b[:snippetLen])) + "..."
	}
	return strconv.Quote(string(b))
}
