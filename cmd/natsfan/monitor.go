package main

// natsfan's nats-server style monitoring, on the main HTTP server:
//
//	GET /connz   the consumer connections (fanout.Server.Connz), with
//	             nats-server's query parameters: sort, subs (1 or detail),
//	             offset, limit, cid, state (open, closed, any)
//	GET /subsz   the subscriptions and the buffered streams
//	             (fanout.Server.Subsz), with each stream's upstream
//	             subscription: subs, offset, limit, test
//
// Both answer as nats-server does, in its JSON shape (indented), with its
// error texts and a 400 for a query it refuses.
//
// Who may read them: nats-server serves the same on its monitoring port,
// which operators keep private. natsfan's HTTP port is not: the kubelet
// probes it on the pod IP, so anything that can reach the pod reaches it,
// and /connz and /subsz name the pod's applications (CONNECT names), their
// subjects and their traffic. So they are served to loopback callers only —
// natsfan top run with kubectl exec, curl in the pod, kubectl port-forward
// (which connects from inside the pod's network namespace) — unless
// NATSFAN_HTTP_MONITOR_REMOTE=true serves them to every caller, for a
// monitoring system that scrapes them over the network (keep a
// NetworkPolicy in front of the port then). /metrics stays open to all: it
// has counts, and no client names or subjects but the configured ones.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// monitor serves /connz and /subsz.
type monitor struct {
	sock   *fanout.Server
	in     *ingest.Ingester // for the upstream subscriptions; nil: none shown
	remote bool             // serve callers that are not on loopback too

	// busy lets one snapshot be built and sent at a time: a snapshot of
	// every subscription can take tens of MiB, which callers must not be
	// able to multiply by asking at once.
	busy sync.Mutex
}

// handler wraps serve with the loopback check and the JSON answer.
func (m *monitor) handler(serve func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.remote && !isLoopbackRemote(r.RemoteAddr) {
			writeText(w, http.StatusForbidden, r.URL.Path+" is served to loopback callers only (natsfan top or curl in the pod, or kubectl port-forward); NATSFAN_HTTP_MONITOR_REMOTE=true serves it to every caller\n")
			return
		}
		m.busy.Lock()
		defer m.busy.Unlock()
		v, err := serve(r)
		if err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		// Indented as nats-server indents it; subjects' > and * left as
		// they are (nats-server writes > as \u003e), for people reading it.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			writeText(w, http.StatusInternalServerError, err.Error())
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(b.Bytes())
	})
}

// connz answers GET /connz, parsing the query as nats-server's HandleConnz.
func (m *monitor) connz(r *http.Request) (any, error) {
	q := query{r.URL.Query()}
	opts := fanout.ConnzOptions{Sort: fanout.SortOpt(q.Get("sort"))}
	var err error
	if opts.Subscriptions, opts.SubscriptionsDetail, err = q.subs(); err != nil {
		return nil, err
	}
	if opts.Offset, err = q.int("offset"); err != nil {
		return nil, err
	}
	if opts.Limit, err = q.int("limit"); err != nil {
		return nil, err
	}
	if opts.CID, err = q.uint64("cid"); err != nil {
		return nil, err
	}
	if opts.State, err = q.state(); err != nil {
		return nil, err
	}
	return m.sock.Connz(opts)
}

// subsz is the answer of GET /subsz: the socket server's, and each stream's
// upstream subscription.
type subsz struct {
	*fanout.Subsz
	UpstreamConnected *bool         `json:"upstream_connected,omitempty"`
	Streams           []subszStream `json:"streams"` // Subsz's, with their upstream subscriptions
}

type subszStream struct {
	fanout.StreamState
	Upstream *upstreamSub `json:"upstream,omitempty"`
}

// upstreamSub is natsfan's upstream subscription for a stream, in ingest.
type upstreamSub struct {
	Subject      string `json:"subject"`
	Active       bool   `json:"active"`        // subscribed, and not refused by the server
	PendingMsgs  int    `json:"pending_msgs"`  // received by nats.go, not yet buffered
	PendingBytes int    `json:"pending_bytes"` // and their bytes
	Dropped      uint64 `json:"dropped_msgs"`  // dropped by nats.go's pending limits
}

// subsz answers GET /subsz, parsing the query as nats-server's HandleSubsz.
func (m *monitor) subsz(r *http.Request) (any, error) {
	q := query{r.URL.Query()}
	opts := fanout.SubszOptions{Test: q.Get("test")}
	var err error
	if opts.Subscriptions, err = q.bool("subs"); err != nil {
		return nil, err
	}
	if opts.Offset, err = q.int("offset"); err != nil {
		return nil, err
	}
	if opts.Limit, err = q.int("limit"); err != nil {
		return nil, err
	}
	sz, err := m.sock.Subsz(opts)
	if err != nil {
		return nil, err
	}
	out := subsz{Subsz: sz, Streams: make([]subszStream, len(sz.Streams))}
	for i, st := range sz.Streams {
		out.Streams[i].StreamState = st
	}
	if m.in != nil {
		is := m.in.Stats()
		out.UpstreamConnected = &is.Connected
		for i, us := range is.Streams {
			if i < len(out.Streams) && us.Pattern == out.Streams[i].Subject {
				out.Streams[i].Upstream = &upstreamSub{Subject: us.Pattern, Active: us.Active,
					PendingMsgs: us.PendingMessages, PendingBytes: us.PendingBytes, Dropped: us.Dropped}
			}
		}
	}
	return out, nil
}

// badQuery is a query parameter /connz or /subsz cannot decode, in
// nats-server's words (which start with a capital, as Go's errors do not).
type badQuery string

func (e badQuery) Error() string { return string(e) }

// query decodes query parameters with nats-server's rules and error texts
// (decodeBool, decodeInt, decodeUint64, decodeState, decodeSubs in its
// monitor.go).
type query struct{ values map[string][]string }

func (q query) Get(name string) string {
	if v := q.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (q query) bool(name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, badQuery(fmt.Sprintf("Error decoding boolean for '%s': %v", name, err))
	}
	return v, nil
}

func (q query) int(name string) (int, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, badQuery(fmt.Sprintf("Error decoding int for '%s': %v", name, err))
	}
	return v, nil
}

func (q query) uint64(name string) (uint64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badQuery(fmt.Sprintf("Error decoding uint64 for '%s': %v", name, err))
	}
	return v, nil
}

func (q query) state() (fanout.ConnState, error) {
	s := q.Get("state")
	switch strings.ToLower(s) {
	case "", "open":
		return fanout.ConnOpen, nil
	case "closed":
		return fanout.ConnClosed, nil
	case "any", "all":
		return fanout.ConnAll, nil
	}
	return 0, badQuery(fmt.Sprintf("Error decoding state for %s", s))
}

// subs decodes subs: "detail" for the details, else a boolean.
func (q query) subs() (subs, detail bool, err error) {
	if strings.ToLower(q.Get("subs")) == "detail" {
		return false, true, nil
	}
	subs, err = q.bool("subs")
	return subs, false, err
}
