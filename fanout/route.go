package fanout

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/subjects"
)

// A stream buffers a pattern, and its socket consumers often want parts of
// it: processes that each subscribe to orders.eu.* or to a subject of their
// own in a stream of orders.>, or in the embedded mode's >. A feed that
// read the whole stream to find its messages would cost every message a
// look from every consumer, and a wake-up of each: with 1,000 consumers of
// a subject each, a message cost the Server 110 µs
// (BenchmarkServer_DeliverOwnSubjects).
//
// So each message is routed once, by the Server's router of the stream: a
// goroutine that takes every batch the stream appends and looks up, in an
// index of the feeds by the subjects of their SUBs (routes), which feeds
// want which of its messages. It starts those that have parked
// (notify.go), and hands a token to those that wait for it (runFeed). It
// records in each feed the first and the last message routed to it
// (feed.routed), and where it has routed everything up to (covered): a
// feed moves past what lies before the first message for it, and after
// the last one up to covered, without reading it (skipAhead). A feed
// routed nothing for a while is moved the same way by the router, without
// a wake-up, every sixteenth of the lag limit (skipIdle): it is never
// behind on messages it was not sent by more than that, so its lag limit
// does not cut it off and its position holds no more of the stream.
//
// A feed that has read nothing but messages for its SUBs lately waits for
// the stream's broadcast, as every feed did before: it wants every
// message, and the broadcast wakes it one hand-off sooner. One that read a
// message for none of them, or skipped some, waits for the router for its
// next strayWakes wake-ups.
//
// Ingest only hands each batch to the router (Stream.Append); it never
// looks at the feeds, whatever their number. Memory: the router holds the
// batches it has yet to route, up to routeBudget bytes; past that it drops
// them, and every feed of its index reads all it has not read, as it would
// without a router. A position (buffer.Position) holds what comes after
// it, so none is kept behind the feed it was made for: feeds drop the
// first message once they have read it, and the router the positions of
// a round once it is over.

// routeBudget is the most bytes of batches a router holds to route.
const routeBudget = 8 << 20

// strayWakes is for how many wake-ups a feed that read a message none of its
// SUBs wanted, or passed over messages the router did not route to it,
// waits for the router rather than for the stream's broadcast.
const strayWakes = 16

// routes indexes a Server's feeds of one stream by the subjects of their
// SUBs: a feed is in it once for each SUB it has on the stream.
type routes struct {
	mu      sync.Mutex
	all     []*feed            // SUBs whose subject covers the stream
	literal map[string][]*feed // SUBs on a literal subject
	wild    map[string][]*feed // other SUBs with wildcards, by subject
	subs    int                // SUBs indexed
}

// add indexes a SUB of f on subject, which covers the stream if every is set.
func (r *routes) add(f *feed, subject string, every bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs++
	switch {
	case every:
		r.all = append(r.all, f)
	case subjects.IsLiteral(subject):
		r.literal[subject] = append(r.literal[subject], f)
	default:
		r.wild[subject] = append(r.wild[subject], f)
	}
}

// remove forgets a SUB of f that add indexed.
func (r *routes) remove(f *feed, subject string, every bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs--
	drop := func(feeds []*feed) []*feed {
		if i := slices.Index(feeds, f); i >= 0 {
			feeds[i] = feeds[len(feeds)-1]
			feeds[len(feeds)-1] = nil
			feeds = feeds[:len(feeds)-1]
		}
		return feeds
	}
	dropFrom := func(index map[string][]*feed) {
		if feeds := drop(index[subject]); len(feeds) > 0 {
			index[subject] = feeds
		} else {
			delete(index, subject)
		}
	}
	switch {
	case every:
		r.all = drop(r.all)
	case subjects.IsLiteral(subject):
		dropFrom(r.literal)
	default:
		dropFrom(r.wild)
	}
}

// eachLocked calls fn for each feed indexed, once for each of its SUBs. It
// must be called with r.mu held.
func (r *routes) eachLocked(fn func(*feed)) {
	for _, f := range r.all {
		fn(f)
	}
	for _, feeds := range r.literal {
		for _, f := range feeds {
			fn(f)
		}
	}
	for _, feeds := range r.wild {
		for _, f := range feeds {
			fn(f)
		}
	}
}

// count returns how many SUBs are indexed.
func (r *routes) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subs
}

// router routes what one stream appends to the feeds of one Server.
type router struct {
	routes routes
	sweep  sweepAfter
	budget uint64 // routeBudget; tests lower it

	mu       sync.Mutex
	pending  []routedBatch // batches appended and not routed yet, oldest first
	bytes    uint64        // what they cost
	overflow bool          // batches were dropped past routeBudget: wake every feed
	ended    bool          // the stream has ended
	wake     chan struct{}

	// covered is where the router has routed every message up to: a feed
	// that nothing after its position was routed to may skip to it.
	covered atomic.Pointer[buffer.Position[Msg]]

	// Owned by the router's goroutine.
	round   uint64     // the routing round under way, which feed.round compares with
	woken   []*feed    // the feeds of the round
	unswept sweepAfter // routed since the router last moved the feeds routed nothing
}

// routedBatch is a batch the stream appended, and where it stands in the
// stream's buffer.
type routedBatch struct {
	msgs          []Msg
	size          uint64
	before, after buffer.Position[Msg]
}

// routedFirst is the first message routed to a feed after a position the
// feed stood on (feed.since), and the position before its batch.
type routedFirst struct {
	seq    uint64
	before buffer.Position[Msg]
}

// sweepAfter is how much a router routes before it moves every feed that
// was routed nothing past it (skipIdle), so that a consumer of a quiet
// subject is never behind by more than that on messages it was not sent:
// its lag limit would count them, and its memory hold them.
type sweepAfter struct{ messages, bytes uint64 }

// sweepEvery returns the sweep for a lag limit: a sixteenth of the limit,
// and 1 MiB at most.
func sweepEvery(lag buffer.Lag) sweepAfter {
	s := sweepAfter{messages: math.MaxUint64, bytes: 1 << 20}
	if lag.MaxMessages > 0 {
		s.messages = max(lag.MaxMessages/16, 1)
	}
	if lag.MaxBytes > 0 {
		s.bytes = max(min(s.bytes, lag.MaxBytes/16), 1)
	}
	return s
}

func newRouter(lag buffer.Lag) *router {
	return &router{
		routes: routes{literal: make(map[string][]*feed), wild: make(map[string][]*feed)},
		sweep:  sweepEvery(lag),
		budget: routeBudget,
		wake:   make(chan struct{}, 1),
	}
}

// post hands the router a batch the stream appended.
func (r *router) post(b routedBatch) {
	r.mu.Lock()
	switch {
	case r.overflow:
	case r.bytes+b.size > r.budget:
		clear(r.pending)
		r.pending, r.bytes, r.overflow = r.pending[:0], 0, true
	default:
		r.pending = append(r.pending, b)
		r.bytes += b.size
	}
	r.mu.Unlock()
	r.poke()
}

// end tells the router that the stream has ended, or that its Server has
// stopped: it routes what it holds and returns.
func (r *router) end() {
	r.mu.Lock()
	r.ended = true
	r.mu.Unlock()
	r.poke()
}

func (r *router) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run routes until the stream ends or the Server stops (end); then it wakes
// every feed once more, so that they read the end.
func (r *router) run(st *Stream) {
	var batches []routedBatch
	for {
		<-r.wake
		r.mu.Lock()
		batches, r.pending = r.pending, batches[:0]
		r.bytes = 0
		overflow, ended := r.overflow, r.ended
		r.overflow = false
		r.mu.Unlock()

		r.route(batches)
		if overflow || ended {
			r.takeEveryone()
		}
		// A feed must read all that the stream dropped for the router:
		// it may skip nothing before the head.
		var through uint64
		if overflow {
			through = st.buf.Head().Seq()
		}
		for i, f := range r.woken {
			if f.round == r.round && f.roundLast > 0 {
				f.routed(f.roundFirst, f.roundLast, f.roundBefore)
				f.roundBefore = buffer.Position[Msg]{} // it would hold what came after
			}
			if through > 0 {
				f.mustRead(through)
			}
			f.conn.poke(f)
			r.woken[i] = nil
		}
		r.woken = r.woken[:0]
		if len(batches) > 0 && !overflow {
			covered := batches[len(batches)-1].after
			r.covered.Store(&covered)
			for _, b := range batches {
				r.unswept.messages += uint64(len(b.msgs))
				r.unswept.bytes += b.size
			}
			if r.unswept.messages >= r.sweep.messages || r.unswept.bytes >= r.sweep.bytes {
				r.unswept = sweepAfter{}
				r.skipIdle(covered)
			}
		}
		clear(batches)
		if ended {
			return
		}
	}
}

// skipIdle moves every feed that nothing after its position was routed to
// up to covered, without waking it: the feed's reader moves as if the
// feed had passed over those messages itself.
func (r *router) skipIdle(covered buffer.Position[Msg]) {
	r.routes.mu.Lock()
	defer r.routes.mu.Unlock()
	r.routes.eachLocked(func(f *feed) {
		if f.last.Load() <= f.sub.readSeq() {
			f.sub.readers[0].reader.SkipTo(covered)
		}
	})
}

// route gathers in r.woken the feeds that want a message of batches, and
// in each the first and last of them it wants.
func (r *router) route(batches []routedBatch) {
	r.round++
	if len(batches) == 0 {
		return
	}
	r.routes.mu.Lock()
	defer r.routes.mu.Unlock()
	first, last := &batches[0], &batches[len(batches)-1]
	r.take(r.routes.all, first.msgs[0].Seq(), last.msgs[len(last.msgs)-1].Seq(), first.before)
	if len(r.routes.literal) == 0 && len(r.routes.wild) == 0 {
		return
	}
	for k := range batches {
		b := &batches[k]
		for i := 0; i < len(b.msgs); {
			// A run of messages on one subject is looked up once.
			subject := b.msgs[i].Subject()
			j := i + 1
			for j < len(b.msgs) && b.msgs[j].Subject() == subject {
				j++
			}
			from, to := b.msgs[i].Seq(), b.msgs[j-1].Seq()
			r.take(r.routes.literal[subject], from, to, b.before)
			for pattern, feeds := range r.routes.wild {
				if subjects.Match(pattern, subject) {
					r.take(feeds, from, to, b.before)
				}
			}
			i = j
		}
	}
}

// take records that feeds want the messages numbered from to to, whose
// batch stands after before.
func (r *router) take(feeds []*feed, from, to uint64, before buffer.Position[Msg]) {
	for _, f := range feeds {
		if f.round != r.round {
			f.round = r.round
			f.roundFirst, f.roundLast, f.roundBefore = from, to, before
			r.woken = append(r.woken, f)
			continue
		}
		f.roundLast = max(f.roundLast, to)
	}
}

// takeEveryone adds every feed indexed to the round's, which wakes those
// that were routed nothing too.
func (r *router) takeEveryone() {
	r.routes.mu.Lock()
	defer r.routes.mu.Unlock()
	r.routes.eachLocked(func(f *feed) {
		if f.round != r.round {
			f.round = r.round
			f.roundLast = 0 // nothing routed in this round
			r.woken = append(r.woken, f)
		}
	})
}

// routed records that the router routed to f the messages numbered from
// first to last that it wants, the first of them in the batch after
// before. It is called by the router before it pokes f.
func (f *feed) routed(first, last uint64, before buffer.Position[Msg]) {
	if since := f.since.Load(); f.last.Load() <= since && first > since {
		f.first.Store(&routedFirst{seq: first, before: before})
	}
	f.mustRead(last)
}

// mustRead records that f may want messages up to seq: it may skip none of
// them. Only the router calls it.
func (f *feed) mustRead(seq uint64) {
	if seq > f.last.Load() {
		f.last.Store(seq)
	}
}

// skipAhead moves f past the messages its router has routed and found none
// of its SUBs wanted: up to the first message routed to it since it last
// waited, or, if none was routed after its position, up to where the router
// has routed. The router records the first and last routed (routed) before
// it moves covered, so what f reads here is never ahead of what it was
// routed. A feed that passed over messages so goes on waiting for the
// router (strays). It must be called by the feed's goroutine, with nothing
// of the current batch left to read.
func (f *feed) skipAhead() {
	at := f.sub.readSeq()
	var skipped bool
	if first := f.first.Load(); first != nil && first.seq > at {
		skipped = f.sub.skipTo(first.before)
	} else if covered := f.router.covered.Load(); covered != nil && covered.Seq() > at && f.last.Load() <= at {
		skipped = f.sub.skipTo(*covered)
	}
	if skipped {
		f.strays = strayWakes
	}
}

// lag returns how far f is behind on messages it may be sent: nothing, if
// nothing after its position was routed to it, though its reader stands
// behind the messages other feeds were sent until the router moves it
// (skipIdle).
func (f *feed) lag() (messages, bytes uint64) {
	if f.last.Load() <= f.sub.readSeq() {
		return 0, 0
	}
	return f.sub.Lag()
}
