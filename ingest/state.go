package ingest

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// nats.go guards the connection's status and the server's INFO with the
// connection's lock, which a publish holds for as long as it waits for a
// full socket: while upstream takes publishes slower than local clients
// send them, asking nats.go would stop natsfan from accepting clients,
// answering probes and serving metrics. So the Ingester keeps its own copy,
// which Start and the event handlers (they run one at a time, in the order
// of the events) update, and everything else reads.

// noteStatus records nc's status and, when it is connected, what the
// server's INFO said. Only Start and the event handlers call it.
//
// The account comes in an INFO of its own, which nats-server sends after
// the PONG to a connection's first PING and nats.go reads only after it
// has connected: until nats.go has it, the account recorded before stands
// (it is the credentials', which a reconnect does not change), and
// noteAccount records it a round trip later.
func (in *Ingester) noteStatus(nc *nats.Conn) {
	status := nc.Status()
	in.status.Store(int32(status))
	if status != nats.CONNECTED {
		return
	}
	jetStream, apiLevel := nc.ConnectedServerJetStream()
	info := fanout.UpstreamInfo{
		Version:       nc.ConnectedServerVersion(),
		MaxPayload:    int(nc.MaxPayload()),
		JetStream:     jetStream,
		JSAPILevel:    apiLevel,
		Account:       nc.RemoteAccount(),
		SystemAccount: nc.IsSystemAccount(),
	}
	if prev := in.server.Load(); info.Account == "" && prev != nil {
		info.Account, info.SystemAccount = prev.Account, prev.SystemAccount
	}
	in.server.Store(&info)
}

// accountFlushTimeout bounds the round trip after which noteAccount looks
// for the account.
const accountFlushTimeout = 2 * time.Second

// noteAccount records, once nats.go has read it, the account that nc is
// bound to: after a round trip, the INFO that names it has been read. Only
// the connect and reconnect handlers call it; a round trip that fails is an
// outage, and the next reconnect tries again.
func (in *Ingester) noteAccount(nc *nats.Conn) {
	if nc.RemoteAccount() == "" && nc.FlushTimeout(accountFlushTimeout) != nil {
		return
	}
	in.noteStatus(nc)
}

// connStatus returns the connection's status as last recorded.
func (in *Ingester) connStatus() nats.Status { return nats.Status(in.status.Load()) }
