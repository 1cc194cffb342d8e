package ingest

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// The connection's event handlers. nats.go runs them one at a time, in the
// order of the events, on its callback goroutine; they count, record and
// log, and after a connect wait one round trip for the account
// (noteAccount). None logs per message: drops and failed connection
// attempts are throttled.

// onConnect runs when the first connection is made, in Start or, when
// upstream was down at boot, later.
func (in *Ingester) onConnect(nc *nats.Conn) {
	in.noteStatus(nc)
	url := in.connectedURL(nc)
	in.lastErr.Store(nil)
	in.log.Info("upstream connected",
		zap.String("url", url),
		zap.String("server_name", nc.ConnectedServerName()),
		zap.Uint64("failed_attempts", in.failures.Load()))
	in.noteAccount(nc)
}

// onDisconnect runs when an established connection drops, and when Close
// closes it; only the first is an outage.
func (in *Ingester) onDisconnect(nc *nats.Conn, err error) {
	if in.closing.Load() || nc.IsClosed() {
		return
	}
	in.status.Store(int32(nats.RECONNECTING))
	n := in.disconnects.Add(1)
	in.downSince.Store(time.Now().UnixNano())
	if err != nil {
		in.lastErr.Store(&err)
	}
	in.log.Warn("upstream disconnected; reconnecting, and not receiving until reconnected",
		zap.Error(err),
		zap.String("url", in.lastURL()),
		zap.Uint64("disconnects", n))
}

// onReconnect runs when nats.go has reconnected and resubscribed.
func (in *Ingester) onReconnect(nc *nats.Conn) {
	in.noteStatus(nc)
	n := in.reconnects.Add(1)
	url := in.connectedURL(nc)
	in.lastErr.Store(nil)
	for _, s := range in.subs {
		// Resubscribed: if upstream still refuses, onError says so again.
		s.refused.Store(nil)
	}
	var outage time.Duration
	if since := in.downSince.Swap(0); since != 0 {
		outage = time.Since(time.Unix(0, since))
		in.downTotal.Add(int64(outage))
	}
	in.log.Warn("upstream reconnected and resubscribed; messages published upstream while disconnected were not received",
		zap.String("url", url),
		zap.Uint64("reconnects", n),
		zap.Duration("outage", outage))
	in.noteAccount(nc)
}

// onConnectFailure runs for every failed connection attempt: at boot, and
// while reconnecting. The first is logged, then at most one a minute.
func (in *Ingester) onConnectFailure(_ *nats.Conn, err error) {
	n := in.failures.Add(1)
	if err != nil {
		in.lastErr.Store(&err)
	}
	if in.reconnLog.allow(time.Now()) {
		in.log.Warn("cannot connect to upstream; retrying",
			zap.Error(err),
			zap.Strings("urls", in.urls),
			zap.Uint64("failed_attempts", n),
			zap.Duration("retry_every", in.cfg.ReconnectWait))
	}
}

// onClosed runs once, when the connection is closed for good: by Close, or
// by nats.go in the rare cases where it gives up. It is the last handler to
// run; Close waits for it.
func (in *Ingester) onClosed(nc *nats.Conn) {
	defer close(in.connClosed)
	in.status.Store(int32(nats.CLOSED))
	if in.closing.Load() {
		return
	}
	in.log.Error("upstream connection closed by nats.go; natsfan will not reconnect and stays not ready",
		zap.Error(nc.LastError()))
}

// onError receives nats.go's asynchronous errors.
func (in *Ingester) onError(_ *nats.Conn, sub *nats.Subscription, err error) {
	switch {
	case errors.Is(err, nats.ErrSlowConsumer) && sub != nil:
		s := in.subscription(sub.Subject)
		if s == nil {
			// An interest, made for local clients: they miss what is
			// dropped, counted when it ends.
			if in.errLog.allow(time.Now()) {
				in.log.Warn("a subscription for local clients fell behind upstream: nats.go is dropping messages beyond the pending limits",
					zap.String("subject", sub.Subject), zap.String("queue", sub.Queue))
			}
			return
		}
		// nats.go reports this once each time the subscription starts to
		// drop, not per drop; drops are counted by the subscription.
		s.slowConsumer.Add(1)
		dropped := s.keepDropped(sub)
		if s.dropLog.allow(time.Now()) {
			in.log.Warn("ingest fell behind upstream: nats.go is dropping messages beyond the pending limits",
				zap.String("pattern", s.pattern),
				zap.Uint64("dropped", dropped),
				zap.Int("pending_messages_limit", in.cfg.PendingMessages),
				zap.Int("pending_bytes_limit", in.cfg.PendingBytes))
		}
	case errors.Is(err, nats.ErrPermissionViolation):
		for _, s := range in.subs {
			if s.refusedBy(err) {
				in.log.Error("upstream refused the subscription; check the permissions of natsfan's NATS user",
					zap.String("pattern", s.pattern), zap.Error(err))
				return
			}
		}
		in.relayViolation(err) // the local clients it concerns are told, as nats-server would tell them
		in.logError(err)
	default:
		in.logError(err)
	}
}

func (in *Ingester) logError(err error) {
	if in.errLog.allow(time.Now()) {
		in.log.Warn("upstream error", zap.Error(err))
	}
}

// onLameDuck runs when the server announces it is shutting down.
func (in *Ingester) onLameDuck(nc *nats.Conn) {
	in.log.Info("upstream server entering lame duck mode; nats.go will move to another server",
		zap.String("url", in.connectedURL(nc)))
}

// subscription returns the subscription to pattern, or nil.
func (in *Ingester) subscription(pattern string) *subscription {
	for _, s := range in.subs {
		if s.pattern == pattern {
			return s
		}
	}
	return nil
}

// connectedURL records and returns the redacted URL nc is connected to.
func (in *Ingester) connectedURL(nc *nats.Conn) string {
	url := redactURL(nc.ConnectedUrl())
	in.url.Store(&url)
	return url
}

// lastURL is the redacted URL of the server last connected to.
func (in *Ingester) lastURL() string {
	if u := in.url.Load(); u != nil {
		return *u
	}
	return ""
}
