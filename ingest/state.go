package ingest

import (
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
func (in *Ingester) noteStatus(nc *nats.Conn) {
	status := nc.Status()
	in.status.Store(int32(status))
	if status == nats.CONNECTED {
		jetStream, apiLevel := nc.ConnectedServerJetStream()
		in.server.Store(&fanout.UpstreamInfo{
			Version:    nc.ConnectedServerVersion(),
			MaxPayload: int(nc.MaxPayload()),
			JetStream:  jetStream,
			JSAPILevel: apiLevel,
		})
	}
}

// connStatus returns the connection's status as last recorded.
func (in *Ingester) connStatus() nats.Status { return nats.Status(in.status.Load()) }
