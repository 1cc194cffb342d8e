package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// collector turns the hub's and the ingester's own counters into Prometheus
// metrics at scrape time, so the hot paths keep no metric objects of their
// own and a scrape costs O(streams + subscriptions).
type collector struct {
	hub  *fanout.Hub
	in   *ingest.Ingester
	sock *fanout.Server
	lag  buffer.Lag // every consumer's lag limit
}

func metricDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("natsfan_"+name, help, labels, nil)
}

var (
	descReceived      = metricDesc("messages_received_total", "Messages received from upstream and buffered, per configured subject.", "stream")
	descReceivedBytes = metricDesc("received_bytes_total", "Bytes of messages (subject, reply, headers, payload) received from upstream, per configured subject.", "stream")
	descDelivered     = metricDesc("messages_delivered_total", "Messages delivered to consumers, counting each consumer's copy: written to the socket, or returned to an in-process subscription.")
	descDropped       = metricDesc("messages_dropped_total", "Messages lost, per configured subject and reason: upstream_pending_limit (nats.go's pending limit was hit), consumer_skipped (skipped by a consumer past its lag limit, per consumer).", "stream", "reason")
	descSlowConsumers = metricDesc("slow_consumers_total", "Consumers cut off for falling further behind than their lag limit.", "stream")
	descConsumers     = metricDesc("consumers", "Consumers: subscriptions of socket connections, and in-process subscriptions.")
	descStreamSubs    = metricDesc("stream_consumers", "Readers of each configured subject: one per socket connection and queue group reading it, and one per in-process subscription.", "stream")
	descLagMessages   = metricDesc("consumer_lag_max_messages", "How far the furthest-behind consumer of a configured subject is behind its newest message.", "stream")
	descLagBytes      = metricDesc("consumer_lag_max_bytes", "How far, in bytes, the furthest-behind consumer of a configured subject is behind its newest message.", "stream")
	descBufMessages   = metricDesc("buffer_messages", "Messages in the retention window of a configured subject.", "stream")
	descBufBytes      = metricDesc("buffer_bytes", "Bytes in the retention window of a configured subject.", "stream")
	descPending       = metricDesc("ingest_pending_messages", "Messages nats.go has received but ingest has not buffered yet.", "stream")
	descConnected     = metricDesc("upstream_connected", "1 while the upstream NATS connection is up.")
	descReconnects    = metricDesc("upstream_reconnects_total", "Reconnections to upstream NATS. Messages published while disconnected are not received.")
	descDisconnects   = metricDesc("upstream_disconnects_total", "Losses of the upstream NATS connection.")
	descConns         = metricDesc("socket_connections", "Consumer connections open on the socket and NATSFAN_LISTEN.")
	descAccepted      = metricDesc("socket_connections_accepted_total", "Consumer connections accepted.")
	descConnsClosed   = metricDesc("socket_connections_closed_total", "Consumer connections closed, by reason: client_closed, slow_consumer, stale_connection, connect_timeout, max_connections, max_control_line, max_payload, protocol_error, server_shutdown, write_error.", "reason")
	descPublished     = metricDesc("messages_published_total", "Messages clients published through natsfan and natsfan sent upstream (requests among them).")
	descPubBytes      = metricDesc("published_bytes_total", "Bytes (headers and payload) of the messages clients published through natsfan.")
	descRequests      = metricDesc("requests_total", "Requests (publishes with a reply subject) clients sent upstream through natsfan.")
	descInFlight      = metricDesc("requests_in_flight", "Requests sent through natsfan and not answered yet (no message on their reply subject), each counted for at most a minute.")
	descPubRefused    = metricDesc("publishes_refused_total", "Publishes refused, by reason: not_allowed (NATSFAN_PUBLISH_ALLOW), upstream (upstream could not take it: down past NATSFAN_NATS_RECONNECT_BUFFER, or a request while down, answered with no responders).", "reason")
	descUpstreamSubs  = metricDesc("upstream_subscriptions", "Subscriptions natsfan holds upstream, by kind: buffered (one per NATSFAN_SUBJECTS pattern), interest (one per distinct subject and queue group clients subscribe to outside them).", "kind")
	descInterestDrops = metricDesc("passthrough_dropped_total", "Messages of interest subscriptions (subjects outside NATSFAN_SUBJECTS) that nats.go dropped past its pending limits, counted when the subscription ends.")
	descDownSeconds   = metricDesc("upstream_disconnected_seconds_total", "Time spent with the upstream connection down after it had been up, in seconds.")
	descSocketLimit   = metricDesc("socket_limit", "The limits of consumer connections, as configured (durations in seconds).", "limit")
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descReceived, descReceivedBytes, descDelivered, descDropped, descSlowConsumers,
		descConsumers, descStreamSubs, descLagMessages, descLagBytes, descBufMessages,
		descBufBytes, descPending, descConnected, descReconnects, descDisconnects,
		descConns, descAccepted, descConnsClosed, descSocketLimit,
		descPublished, descPubBytes, descRequests, descInFlight, descPubRefused, descUpstreamSubs,
		descInterestDrops, descDownSeconds,
	} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	hs := c.hub.Stats()
	ss := c.sock.Stats()
	counter(descDelivered, hs.Delivered+ss.Delivered)
	gauge(descConsumers, float64(hs.Subscriptions+ss.Subscriptions))
	for _, s := range hs.Streams {
		counter(descReceived, s.Received, s.Pattern)
		counter(descReceivedBytes, s.ReceivedBytes, s.Pattern)
		counter(descDropped, s.SkippedMsgs, s.Pattern, "consumer_skipped")
		counter(descSlowConsumers, s.SlowConsumers, s.Pattern)
		gauge(descStreamSubs, float64(s.Subscriptions), s.Pattern)
		gauge(descLagMessages, float64(s.MaxLag), s.Pattern)
		gauge(descLagBytes, float64(s.MaxLagBytes), s.Pattern)
		gauge(descBufMessages, float64(s.Retained), s.Pattern)
		gauge(descBufBytes, float64(s.RetainedBytes), s.Pattern)
	}

	is := c.in.Stats()
	connected := 0.0
	if is.Connected {
		connected = 1
	}
	gauge(descConnected, connected)
	counter(descReconnects, is.Reconnects)
	counter(descDisconnects, is.Disconnects)
	ch <- prometheus.MustNewConstMetric(descDownSeconds, prometheus.CounterValue, is.Disconnected.Seconds())
	gauge(descUpstreamSubs, float64(len(is.Streams)), "buffered")
	gauge(descUpstreamSubs, float64(is.Interests), "interest")
	counter(descInterestDrops, is.InterestDropped)
	for _, s := range is.Streams {
		counter(descDropped, s.Dropped, s.Pattern, "upstream_pending_limit")
		gauge(descPending, float64(s.PendingMessages), s.Pattern)
	}

	counter(descPublished, ss.Published)
	counter(descPubBytes, ss.PublishedBytes)
	counter(descRequests, ss.Requests)
	gauge(descInFlight, float64(ss.RequestsInFlight))
	counter(descPubRefused, ss.PubDenied, "not_allowed")
	counter(descPubRefused, ss.PubFailed, "upstream")
	gauge(descConns, float64(ss.Connections))
	counter(descAccepted, ss.Accepted)
	for reason, n := range ss.Closed {
		counter(descConnsClosed, n, reason)
	}
	lim := c.sock.Config()
	for name, v := range map[string]float64{
		"max_connections":         float64(lim.MaxConnections),
		"max_subscriptions":       float64(lim.MaxSubscriptions),
		"max_subscriptions_total": float64(lim.MaxSubsTotal),
		"max_queue_groups":        float64(lim.MaxQueueGroups),
		"max_control_line":        float64(lim.MaxControlLine),
		"max_payload":             float64(ss.MaxPayload),
		"max_pending":             float64(lim.MaxPending),
		"connect_timeout":         lim.ConnectTimeout.Seconds(),
		"ping_interval":           lim.PingInterval.Seconds(),
		"max_pings_out":           float64(lim.MaxPingsOut),
		"write_deadline":          lim.WriteDeadline.Seconds(),
		"max_lag_messages":        float64(c.lag.MaxMessages),
		"max_lag_bytes":           float64(c.lag.MaxBytes),
	} {
		gauge(descSocketLimit, v, name)
	}
}
