// Package ingest feeds natsfan's streams from the upstream NATS cluster: one
// connection, and one subscription per configured subject pattern, whatever
// the number of local consumers.
//
//	in := ingest.New(ingest.Config{URLs: urls, NATSOptions: auth}, hub.Streams(), log)
//	if err := in.Start(ctx); err != nil {
//		return err // a configuration error: it will not fix itself
//	}
//	defer in.Close()
//	...
//	err := in.Ready() // for /readyz: nil when connected and every subscription is active
//	...
//	in.Drain(shutdownCtx) // on SIGTERM: append what was received, then disconnect
//
// # One writer per stream
//
// Each stream gets an asynchronous nats.go subscription (Conn.Subscribe with
// a callback). nats.go queues the messages of such a subscription in a
// linked list and calls the callback from one goroutine of its own, one
// message at a time, in the order they arrived. That goroutine is therefore
// the single writer of its stream: nothing else appends to it, and messages
// keep their upstream order. The queue has no channel behind it (unlike a
// synchronous or channel subscription, whose channel holds at most
// nats.SubChanLen messages), so the only limits are the pending limits
// Config.PendingMessages and Config.PendingBytes, which Start sets on every
// subscription. They are much higher than nats.go's defaults, so that a
// burst the process can absorb is absorbed rather than dropped.
//
// # Batching, and why the last message never waits
//
// Appending to a stream costs about the same for one message as for many, so
// under load the callback gathers messages into a batch and appends them
// with one Stream.Append. It decides with the subscription's pending count
// (Subscription.Pending), relying on one fact of nats.go's delivery loop
// (Conn.waitForMsgs): a message stays counted as pending until its callback
// has returned. Inside the callback the count is therefore 1 when the
// current message is the only one queued, and more when others are waiting
// behind it. The callback appends the batch when the count is 1, or when the
// batch holds Config.MaxBatch messages; otherwise it returns and lets the
// next callback carry on. A message that arrives after the count was read is
// queued behind the current one and gets a callback of its own, which reads
// the count again; so the last message of a burst is always appended by its
// own callback, and nothing waits for a later message to push it out. Under
// light load every batch holds one message; under a burst batches grow, up
// to MaxBatch, and the cost per message falls.
//
// A batch is a reused slice of fanout.Incoming, which point at what nats.go
// allocated for each message. Stream.Append copies the batch's subjects,
// headers and small payloads into a few arenas and keeps the payloads of
// 2 KiB or more where nats.go put them (ingest gives them: nats.go
// allocates each afresh and never touches it again), so that what the
// stream keeps is compact and holds few pointers for the garbage collector
// to follow. The batch is stamped with one reading of the clock, at its
// append.
//
// # What is lost, and how it shows
//
// Ingest never waits for consumers (the streams do not block), so while it
// runs there are only two ways to lose a message, and both are counted and
// logged, never one log line per message:
//
//   - The callback falls behind by more than the pending limits: nats.go
//     drops what arrives beyond them (Subscription.Dropped) and reports
//     nats.ErrSlowConsumer. StreamStats.Dropped counts them; a warning with
//     the running count is logged at most once every 10 seconds per stream.
//   - The connection drops: what upstream publishes until nats.go has
//     reconnected and resubscribed (which it does by itself, forever) is not
//     received. Stats.Disconnects and Stats.Reconnects count the outages,
//     and both ends of each are logged. The streams carry on: consumers see
//     the messages before the outage and after it, numbered without a gap,
//     since the numbers are natsfan's, not upstream's.
//
// # The connection
//
// Start connects with nats.RetryOnFailedConnect: when upstream cannot be
// reached at boot, Start still succeeds, Ready reports why natsfan is not
// ready (so /readyz fails and the kubelet keeps traffic away), and nats.go
// keeps trying. An upstream outage is something to wait out, not a reason to
// crash-loop. The first failure, and the failures after it at most once a
// minute, are logged with the error, so that a wrong URL or wrong credentials
// are plain to see. nats.go never gives up reconnecting (MaxReconnects(-1)),
// not even after repeated authorization errors (IgnoreAuthErrorAbort):
// credentials can be fixed while natsfan runs. Start fails only for what
// cannot fix itself: a malformed URL, contradictory options, an invalid
// subject.
//
// Config.NATSOptions carries what the caller knows (credentials, TLS, the
// connection name, ping interval…). The Ingester applies its own options
// after them and owns the connection's event handlers (disconnected,
// reconnected, closed, error, reconnect error, lame duck mode) and its
// reconnect policy: options that set those are overridden.
//
// URLs are logged with any user information replaced by "redacted", since a
// NATS URL may carry a user and password or a token.
//
// # Shutting down
//
// Drain unsubscribes every subscription in the nats.go drain mode: the
// server stops sending, everything already received is appended to the
// streams, then the connection closes. Close closes the connection at once
// and drops what is still queued. After either returns, no callback will
// append to a stream again and no handler of the Ingester runs again. Both
// are idempotent, and Close may follow Drain. Either may be called while
// Start is under way, from another goroutine: Start then returns ErrClosed,
// and Close returns only once Start has closed what it had opened. Stop
// ingest before the hub:
// what arrives once the hub has closed is dropped, uncounted, since
// Stream.Append refuses it.
package ingest
