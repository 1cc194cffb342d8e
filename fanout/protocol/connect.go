package protocol

import (
	"encoding/json"
	"fmt"
)

// ConnectInfo is what a client says about itself in its CONNECT: the fields
// of nats-server's ClientOpts (server/client.go) that a client connection
// uses, with the same JSON names. nats.go v1.55 sends all of the fields
// without omitempty below on every connect.
type ConnectInfo struct {
	ConnectOptions

	// Name is the connection name the application chose, if any.
	Name string `json:"name"`
	// Lang is the client library's language ("go", "nats.js"…).
	Lang string `json:"lang"`
	// Version is the client library's version.
	Version string `json:"version"`

	// Credentials. Never log them: String leaves them out.
	User      string `json:"user,omitempty"`
	Pass      string `json:"pass,omitempty"`
	AuthToken string `json:"auth_token,omitempty"`
	JWT       string `json:"jwt,omitempty"`
	Sig       string `json:"sig,omitempty"`
	Nkey      string `json:"nkey,omitempty"`

	// Account is for nats-server's dynamic accounts; stock clients do not
	// send it.
	Account string `json:"account,omitempty"`
}

// ConnectOptions are a CONNECT's options: what it asks of the server,
// without the strings (names, credentials). They are what a connection
// keeps of its CONNECTs: nats-server decodes each CONNECT of a connection
// over what its earlier ones said, so an option a later one leaves out
// stands, and a connection that kept the strings too would let a client
// that sends several CONNECTs hold a control line's worth of each.
type ConnectOptions struct {
	// Verbose asks for +OK after each SUB, UNSUB, PUB and CONNECT.
	Verbose bool `json:"verbose"`
	// Pedantic asks for stricter checks, such as "Invalid Publish Subject".
	Pedantic bool `json:"pedantic"`
	// TLSRequired says the client wants TLS.
	TLSRequired bool `json:"tls_required"`
	// Protocol is 0 (original) or 1 (the client handles async INFO).
	Protocol int `json:"protocol"`
	// Echo asks for the client's own publishes to be delivered to its
	// subscriptions.
	Echo bool `json:"echo"`
	// Headers says the client handles HMSG. Without it, the server strips
	// headers and sends MSG, and refuses HPUB.
	Headers bool `json:"headers"`
	// NoResponders asks for a 503 status message when a request has no
	// responders. It requires Headers.
	NoResponders bool `json:"no_responders"`
	// NewAccount is for nats-server's dynamic accounts; stock clients do
	// not send it.
	NewAccount bool `json:"new_account,omitempty"`
}

// DefaultConnectOptions are what nats-server assumes of a client before its
// first CONNECT, and of what that CONNECT leaves out: Verbose, Pedantic and
// Echo, nothing else.
func DefaultConnectOptions() ConnectOptions {
	return ConnectOptions{Verbose: true, Pedantic: true, Echo: true}
}

// ParseConnect decodes the JSON argument of a connection's first CONNECT
// (Command.Arg) as nats-server does: fields it does not know are ignored,
// fields that are absent keep their defaults ([DefaultConnectOptions]),
// and a field of the wrong type is an error. nats-server closes the
// connection on such an error without an -ERR line, so the error is a
// [*ProtocolError] with an empty Text.
//
// ParseConnect does not judge what the client asks for: see
// [ConnectInfo.Validate].
func ParseConnect(arg []byte) (ConnectInfo, error) {
	return DefaultConnectOptions().Parse(arg)
}

// Parse decodes a CONNECT as [ParseConnect] does, over o rather than the
// defaults: for a connection's later CONNECT, o are the options of its
// earlier ones.
func (o ConnectOptions) Parse(arg []byte) (ConnectInfo, error) {
	ci := ConnectInfo{ConnectOptions: o}
	if err := json.Unmarshal(arg, &ci); err != nil {
		return ConnectInfo{}, &ProtocolError{Err: ErrBadConnect, Detail: err.Error()}
	}
	return ci, nil
}

// Validate checks a CONNECT as nats-server does once it has decoded it, for
// a server that supports headers: the protocol must be 0 or 1, and
// no_responders needs headers. The error is a [*ProtocolError] whose Text
// nats-server sends before closing the connection.
func (ci *ConnectInfo) Validate() error {
	if ci.Protocol < 0 || ci.Protocol > 1 {
		return &ProtocolError{Err: ErrBadConnect, Text: TextBadClientProtocol,
			Detail: fmt.Sprintf("protocol %d", ci.Protocol)}
	}
	if ci.NoResponders && !ci.Headers {
		return &ProtocolError{Err: ErrBadConnect, Text: TextNoRespondersRequiresHeaders,
			Detail: "no_responders without headers"}
	}
	return nil
}

// String describes the client for logs, credentials left out, for example
//
//	name="orders-worker" lang="go" version="1.55.0" protocol=1 verbose=false pedantic=false echo=true headers=true no_responders=true
func (ci ConnectInfo) String() string {
	return fmt.Sprintf("name=%q lang=%q version=%q protocol=%d verbose=%t pedantic=%t echo=%t headers=%t no_responders=%t",
		ci.Name, ci.Lang, ci.Version, ci.Protocol, ci.Verbose, ci.Pedantic, ci.Echo, ci.Headers, ci.NoResponders)
}
