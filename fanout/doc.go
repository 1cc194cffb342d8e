// Package fanout hands the messages natsfan ingests to any number of local
// consumers, each at its own pace.
//
// A Hub holds one Stream per configured subject pattern. Ingest appends what
// arrives upstream to the Stream it belongs to (patterns never overlap, so
// every message belongs to exactly one); Subscriptions read from the Streams
// through buffer.Readers, without locks and without copying: a message is
// stored once, compactly (see Msg), and every consumer gets the same *Msg.
//
//	hub, _ := fanout.NewHub([]string{"orders.>", "prices.*"})
//	sub, _ := hub.Subscribe(ctx, "orders.eu.>", fanout.StartAtOldest())
//	for {
//		msg, err := sub.Next(ctx)
//		...
//	}
//
// # What a subscription sees
//
// A subscription's pattern may be narrower than a stream (it then filters
// that stream's messages with subjects.Match) or span several streams (one
// goroutine per stream then feeds it). Messages of one stream arrive in the
// order they were ingested, numbered 1, 2, 3… per stream (Msg.Seq); there
// is no order across streams. A subscription starts with new messages, with
// the oldest the streams retain, or after a Position it saved; if part of
// what it asked for has left the retention window, Next says so with a
// *GapError before it carries on.
//
// A Position names, for each stream, the stream's run as well as a
// sequence number, because every Hub numbers from 1 again: a Position
// saved before a restart does not resume at whatever message has its
// number now. The subscription starts at the oldest retained message
// instead, after a *GapError whose Unknown is set, since nobody can tell
// how many messages were missed between the runs. Positions round-trip
// through encoding/json, for callers that keep them.
//
// # Slow consumers
//
// No consumer can slow ingest or another consumer, and none can make the hub
// hold more than the retention window plus its lag limit (plus what arrives
// in one sweep interval). A subscription that falls further behind than its
// lag limit is cut off (Next returns ErrSlowConsumer) or, under the skip
// policy, moved to the newest message with the gap reported. Subscriptions
// check their own lag as they read; the hub's sweeper catches the ones that
// stopped reading.
//
// # Clients in other processes
//
// A Server serves the same subscriptions to other processes over the NATS
// client protocol, on a Unix socket (ListenUnix) or a loopback TCP address:
// any NATS client connects to it as to nats-server. A connection reads each
// stream it subscribes to through one Subscription, whatever its number of
// SUBs (feed.go), and a queue group reads through one Subscription that
// hands each message to one member (queue_group.go). The connections that
// read a stream through one SUB each send from frames the stream encodes
// once per sid (wire.go), not each from its own copy. Each message is
// routed once, to the connections whose SUBs want it: those that want part
// of a stream are neither woken by nor read the rest of it (route.go). The wire codec is in
// the protocol subpackage. A connection that falls behind its lag limit,
// or that takes no byte for the write deadline, is closed as nats-server
// closes a slow consumer, without an -ERR, so that clients reconnect;
// messages a connection has not taken stay in the hub, shared, so a slow
// connection costs at most 512 KiB of its own (outbound.go). An idle
// connection holds one goroutine, its reader: its writer stops after
// ServerConfig.IdleAfter without messages to send, or at once when it sent
// the server's own frames only, and its feeds start parked and park again
// after IdleAfter without messages (write.go, notify.go, route.go).
//
// # What is not buffered is passed through
//
// Given an Upstream (ServerConfig.Upstream: natsfan's one upstream
// connection, which ingest.Ingester implements), a Server is the pod's
// NATS server for everything else too, as a leaf node is: a client's PUB
// and HPUB go upstream, in its order (publish.go); a SUB to a subject no
// stream buffers subscribes upstream, once per distinct subject and queue
// group whatever the number of local SUBs, until the last one leaves
// (interest.go), and so does a SUB that spans buffered and unbuffered
// subjects, or to a client's inbox; request/reply, services and JetStream
// ride on these.
// Nothing is delivered locally on the side: a local publish reaches local
// subscribers through upstream, as every other message does, so each gets
// it once and queue groups span the cluster. Messages received on interest
// are not buffered, so a client behind on them is held to
// ServerConfig.MaxPending, as nats-server holds it to max_pending. A
// client without echo is kept from its own messages by fingerprint
// (echo.go), and upstream's permissions violations reach the client they
// concern (violation.go).
//
// # Monitoring
//
// Server.Connz and Server.Subsz answer nats-server's /connz and /subsz, in
// its JSON shape, with natsfan's own fields besides: how far behind each
// connection, subscription and queue group is, and each stream's state
// (connz.go, subsz.go). The last 1,024 closed connections are kept, with
// the reason they closed under nats-server's name for it (closed.go).
//
// # Shutting down
//
// Drain ends the streams and lets subscriptions read what they hold, up to a
// deadline; Close ends everything at once. Either way a subscription's last
// Next returns ErrHubClosed. Server.Shutdown, after the hub's Drain, closes
// each connection once what was queued for it is written.
package fanout
