package fanout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newHub returns a hub over patterns that the test closes when it ends.
func newHub(t *testing.T, patterns []string, opts ...fanout.Option) *fanout.Hub {
	t.Helper()
	h, err := fanout.NewHub(patterns, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// publish appends one message per subject to the stream at index i, each as
// its own batch, with the subject as payload.
func publish(h *fanout.Hub, i int, subjects ...string) {
	for _, s := range subjects {
		h.Streams()[i].Append(time.Now(), fanout.Incoming{Subject: s, Data: []byte(s)})
	}
}

// receive reads n messages and returns their subjects. It fails the test,
// so call it from the test's goroutine; other goroutines call next.
func receive(t *testing.T, sub *fanout.Subscription, n int) []string {
	t.Helper()
	got, err := next(testContext(t), sub, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// next reads n messages and returns their subjects, or what it read and
// the error that stopped it.
func next(ctx context.Context, sub *fanout.Subscription, n int) ([]string, error) {
	var got []string
	for len(got) < n {
		m, err := sub.Next(ctx)
		if err != nil {
			return got, fmt.Errorf("Next after %d of %d messages: %w", len(got), n, err)
		}
		got = append(got, m.Subject())
	}
	return got, nil
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

func TestNewHub_RejectsBadAndOverlappingPatterns(t *testing.T) {
	for _, patterns := range [][]string{
		nil,
		{"orders..eu"},
		{"orders.>", "orders.eu"},
		{"*.eu", "orders.*"},
		{"a", "a"},
	} {
		if h, err := fanout.NewHub(patterns); err == nil {
			h.Close()
			t.Errorf("NewHub(%q) succeeded, want an error", patterns)
		}
	}
}

func TestHub_SubscribeToAPatternNothingIngestsIsAnError(t *testing.T) {
	h := newHub(t, []string{"orders.>"})
	_, err := h.Subscribe(testContext(t), "prices.*")
	if !errors.Is(err, fanout.ErrNotIngested) {
		t.Fatalf("Subscribe = %v, want ErrNotIngested", err)
	}
	if _, err := h.Subscribe(testContext(t), "orders.."); err == nil {
		t.Fatal("Subscribe to an invalid pattern succeeded")
	}
}

func TestSubscription_NarrowPatternFiltersAStream(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"orders.eu.*", []string{"orders.eu.new", "orders.eu.paid"}},
		{"orders.eu.paid", []string{"orders.eu.paid"}}, // a literal, compared rather than matched
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			h := newHub(t, []string{"orders.>"})
			sub, err := h.Subscribe(testContext(t), tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			publish(h, 0, "orders.us.new", "orders.eu.new", "orders.eu.x.y", "orders.eu.paid", "orders.eu.paid.x")
			if got := receive(t, sub, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Fatalf("received %v, want %v", got, tc.want)
			}
			publish(h, 0, "orders.eu.paid")
			if got := receive(t, sub, 1); got[0] != "orders.eu.paid" {
				t.Fatalf("then received %v", got)
			}
			if pos := sub.Position(); pos["orders.>"].Seq != 6 {
				t.Fatalf("Position = %v, want orders.> at 6 (filtered messages count as passed)", pos)
			}
		})
	}
}

func TestSubscription_PatternSpanningStreamsReceivesBothInOrderPerStream(t *testing.T) {
	h := newHub(t, []string{"a.*", "b.*", "c.*"})
	sub, err := h.Subscribe(testContext(t), "*.x")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 200
	for i := range n {
		publish(h, 0, "a.x")
		publish(h, 1, "b.x", "b.y")
		publish(h, 2, fmt.Sprintf("c.%d", i)) // never matches *.x except... c.x is not published
	}
	last := map[string]uint64{}
	count := map[string]int{}
	for range 2 * n {
		m, err := sub.Next(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq() <= last[m.Stream()] {
			t.Fatalf("%s: seq %d after %d", m.Stream(), m.Seq(), last[m.Stream()])
		}
		last[m.Stream()] = m.Seq()
		count[m.Subject()]++
	}
	if count["a.x"] != n || count["b.x"] != n || len(count) != 2 {
		t.Fatalf("received %v, want %d each of a.x and b.x", count, n)
	}
}

func TestSubscription_StartPositions(t *testing.T) {
	h := newHub(t, []string{"s.*"}, fanout.WithRetention(buffer.Retention{MaxMessages: 3}))
	early, err := h.Subscribe(testContext(t), "s.*")
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	publish(h, 0, "s.1", "s.2", "s.3")
	receive(t, early, 1)
	after1 := early.Position()
	receive(t, early, 2)
	after3 := early.Position()
	publish(h, 0, "s.4", "s.5") // retained: s.3 s.4 s.5

	oldest, err := h.Subscribe(testContext(t), "s.*", fanout.StartAtOldest())
	if err != nil {
		t.Fatal(err)
	}
	defer oldest.Close()
	newOnly, _ := h.Subscribe(testContext(t), "s.*")
	defer newOnly.Close()
	resumed, _ := h.Subscribe(testContext(t), "s.*", fanout.StartAfter(after3))
	defer resumed.Close()
	tooOld, _ := h.Subscribe(testContext(t), "s.*", fanout.StartAfter(after1))
	defer tooOld.Close()
	if got := newOnly.Position()["s.*"].Seq; got != 5 {
		t.Errorf("a new subscription's position: %d, want 5, where it started", got)
	}

	publish(h, 0, "s.6")
	if got := fmt.Sprint(receive(t, oldest, 4)); got != "[s.3 s.4 s.5 s.6]" {
		t.Errorf("oldest: %v", got)
	}
	if got := fmt.Sprint(receive(t, newOnly, 1)); got != "[s.6]" {
		t.Errorf("new only: %v", got)
	}
	if got := fmt.Sprint(receive(t, resumed, 3)); got != "[s.4 s.5 s.6]" {
		t.Errorf("after 3: %v", got)
	}
	_, err = tooOld.Next(testContext(t))
	var gap *fanout.GapError
	if !errors.As(err, &gap) || gap.Missed != 1 || gap.Stream != "s.*" || gap.Unknown {
		t.Fatalf("after 1: first Next = %v, want a gap of 1 (s.2)", err)
	}
	if got := fmt.Sprint(receive(t, tooOld, 4)); got != "[s.3 s.4 s.5 s.6]" {
		t.Errorf("after 1, past the gap: %v", got)
	}
}

// A position saved in one run and given to StartAfter in the next must not
// resume at whatever message has the same number in the new run: every run
// numbers from 1. It resumes at the oldest retained message, after a gap of
// unknown size.
func TestSubscription_StartAfterAPositionFromAnotherRunReportsAGap(t *testing.T) {
	before := newHub(t, []string{"s.*", "t.*"})
	sub, err := before.Subscribe(testContext(t), ">", fanout.StartAtOldest())
	if err != nil {
		t.Fatal(err)
	}
	publish(before, 0, "s.1", "s.2", "s.3")
	publish(before, 1, "t.1")
	receive(t, sub, 4)
	saved, err := json.Marshal(sub.Position())
	if err != nil {
		t.Fatal(err)
	}
	before.Close()

	var pos fanout.Position
	if err := json.Unmarshal(saved, &pos); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pos, sub.Position()) {
		t.Fatalf("the position did not survive JSON: %s became %v, want %v", saved, pos, sub.Position())
	}
	after := newHub(t, []string{"s.*", "t.*"}) // the next run
	publish(after, 0, "s.a", "s.b", "s.c", "s.d", "s.e")
	resumed, err := after.Subscribe(testContext(t), "s.*", fanout.StartAfter(pos))
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	_, err = resumed.Next(testContext(t))
	var gap *fanout.GapError
	if !errors.As(err, &gap) || !gap.Unknown || gap.Missed != 0 || gap.Stream != "s.*" {
		t.Fatalf("first Next = %v, want a gap of unknown size on s.*", err)
	}
	if got := fmt.Sprint(receive(t, resumed, 5)); got != "[s.a s.b s.c s.d s.e]" {
		t.Fatalf("after the gap: %v, want the oldest retained on", got)
	}
}

func TestSubscription_SlowConsumerIsCutOffWhileOthersReceiveEverything(t *testing.T) {
	h := newHub(t, []string{"s.*"},
		fanout.WithLagLimit(buffer.Lag{MaxMessages: 100}),
		fanout.WithSweepInterval(5*time.Millisecond))
	stuck, _ := h.Subscribe(testContext(t), "s.*")
	defer stuck.Close()
	reader, _ := h.Subscribe(testContext(t), "s.*", fanout.WithSubscriptionLag(buffer.Lag{}))
	defer reader.Close()

	const n = 1000
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() {
		_, err := next(ctx, reader, n)
		done <- err
	}()
	for range n {
		publish(h, 0, "s.x")
	}
	if err := <-done; err != nil {
		t.Fatalf("the reading subscription: %v", err)
	}
	waitFor(t, "the sweeper to cut off the stuck subscription", func() bool {
		return h.Stats().Streams[0].SlowConsumers == 1
	})
	if _, err := stuck.Next(testContext(t)); !errors.Is(err, fanout.ErrSlowConsumer) {
		t.Fatalf("stuck: Next = %v, want ErrSlowConsumer", err)
	}
	if st := h.Stats(); st.Subscriptions != 1 || st.Delivered != n {
		t.Fatalf("Stats = %+v, want 1 subscription left and %d delivered", st, n)
	}
}

func TestSubscription_SkipPolicyReportsTheGapAndCarriesOn(t *testing.T) {
	h := newHub(t, []string{"s.*"}, fanout.WithSweepInterval(5*time.Millisecond))
	sub, _ := h.Subscribe(testContext(t), "s.*",
		fanout.WithSubscriptionLag(buffer.Lag{MaxMessages: 10, Policy: buffer.LagSkip}))
	defer sub.Close()
	// In one append, so that the sweeper finds all 50 when it skips.
	old := make([]fanout.Incoming, 50)
	for i := range old {
		old[i] = fanout.Incoming{Subject: "s.old"}
	}
	h.Streams()[0].Append(time.Now(), old...)
	waitFor(t, "the sweeper to skip the subscription ahead", func() bool {
		return h.Stats().Streams[0].Skips == 1
	})
	publish(h, 0, "s.new")
	_, err := sub.Next(testContext(t))
	var gap *fanout.GapError
	if !errors.As(err, &gap) || gap.Missed != 50 {
		t.Fatalf("Next = %v, want a gap of 50", err)
	}
	if got := receive(t, sub, 1); got[0] != "s.new" {
		t.Fatalf("after the gap: %v", got)
	}
}

func TestSubscription_EndsWithItsContextAndWithClose(t *testing.T) {
	h := newHub(t, []string{"s.*", "t.*"})
	for _, pattern := range []string{"s.*", ">"} { // one stream, and a merge of two
		ctx, cancel := context.WithCancel(testContext(t))
		sub, _ := h.Subscribe(ctx, pattern)
		cancel()
		if _, err := sub.Next(testContext(t)); !errors.Is(err, fanout.ErrClosed) {
			t.Fatalf("%s: Next after the context ended = %v, want ErrClosed", pattern, err)
		}

		sub, _ = h.Subscribe(testContext(t), pattern)
		errc := make(chan error)
		go func() {
			_, err := sub.Next(context.Background())
			errc <- err
		}()
		sub.Close()
		if err := <-errc; !errors.Is(err, fanout.ErrClosed) {
			t.Fatalf("%s: Next after Close = %v, want ErrClosed", pattern, err)
		}
	}
	// A context's end closes its subscription from another goroutine
	// (context.AfterFunc), which may still be finishing.
	waitFor(t, "every subscription to be unregistered", func() bool { return h.Stats().Subscriptions == 0 })
}

// A context that has ended closes the subscription from another goroutine
// (context.AfterFunc) at once, possibly before Subscribe has finished making
// it; one that ends while Subscribe runs may do so at any step. Either way
// Subscribe returns ErrClosed or a subscription that ends with ErrClosed.
func TestHub_SubscribeWithAContextThatHasEndedOrEndsMeanwhile(t *testing.T) {
	h := newHub(t, []string{"s.*", "t.*"})
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	next := testContext(t)
	var cancels sync.WaitGroup
	for i := range 20_000 {
		pattern := "s.*" // one stream
		if i%2 == 1 {
			pattern = ">" // a merge of two
		}
		ctx := ended
		if i%4 >= 2 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(context.Background())
			cancels.Go(cancel) // while Subscribe runs
		}
		sub, err := h.Subscribe(ctx, pattern)
		if err != nil {
			if !errors.Is(err, fanout.ErrClosed) {
				t.Fatalf("Subscribe %d = %v, want a subscription or ErrClosed", i, err)
			}
			continue
		}
		if _, err := sub.Next(next); !errors.Is(err, fanout.ErrClosed) {
			t.Fatalf("subscription %d: Next = %v, want ErrClosed", i, err)
		}
	}
	cancels.Wait()
	waitFor(t, "every subscription to be unregistered", func() bool { return h.Stats().Subscriptions == 0 })
}

func TestSubscription_NextWithAnEndedContextLeavesTheSubscriptionOpen(t *testing.T) {
	h := newHub(t, []string{"s.*"})
	sub, _ := h.Subscribe(testContext(t), "s.*")
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", err)
	}
	publish(h, 0, "s.1")
	if got := receive(t, sub, 1); got[0] != "s.1" {
		t.Fatalf("then %v", got)
	}
}

func TestHub_DrainLetsSubscriptionsReadWhatIsBuffered(t *testing.T) {
	h := newHub(t, []string{"s.*", "t.*"})
	single, _ := h.Subscribe(testContext(t), "s.*")
	merged, _ := h.Subscribe(testContext(t), ">")
	publish(h, 0, "s.1", "s.2")
	publish(h, 1, "t.1")

	read := func(sub *fanout.Subscription) chan []string {
		got := make(chan []string, 1)
		go func() {
			var subjects []string
			for {
				m, err := sub.Next(context.Background())
				if err != nil {
					if !errors.Is(err, fanout.ErrHubClosed) {
						subjects = append(subjects, err.Error())
					}
					got <- subjects
					return
				}
				subjects = append(subjects, m.Subject())
			}
		}()
		return got
	}
	singleGot, mergedGot := read(single), read(merged)
	if err := h.Drain(testContext(t)); err != nil {
		t.Fatalf("Drain = %v", err)
	}
	if got := fmt.Sprint(<-singleGot); got != "[s.1 s.2]" {
		t.Errorf("single stream read %v", got)
	}
	if got := <-mergedGot; len(got) != 3 {
		t.Errorf("merged read %v, want all three messages", got)
	}
	if h.Streams()[0].Append(time.Now(), fanout.Incoming{Subject: "s.late"}) {
		t.Error("Append after Drain was accepted")
	}
}

func TestHub_DrainCutsOffWhatIsNotReadByTheDeadline(t *testing.T) {
	h := newHub(t, []string{"s.*"})
	stuck, _ := h.Subscribe(testContext(t), "s.*")
	publish(h, 0, "s.1")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain = %v, want DeadlineExceeded", err)
	}
	if _, err := stuck.Next(testContext(t)); !errors.Is(err, fanout.ErrHubClosed) {
		t.Fatalf("Next = %v, want ErrHubClosed", err)
	}
	if _, err := h.Subscribe(testContext(t), "s.*"); !errors.Is(err, fanout.ErrHubClosed) {
		t.Fatalf("Subscribe after Drain = %v, want ErrHubClosed", err)
	}
}

func TestMsg_HeadersAreEncodedOnceInWireForm(t *testing.T) {
	m := fanout.NewMsg("s", "r", map[string][]string{"B": {"2"}, "A": {"1", "x"}}, []byte("d"), time.Now())
	want := "NATS/1.0\r\nA: 1\r\nA: x\r\nB: 2\r\n\r\n"
	if got := string(m.RawHeader()); got != want {
		t.Fatalf("RawHeader = %q, want %q", got, want)
	}
	if fanout.NewMsg("s", "", nil, nil, time.Now()).RawHeader() != nil {
		t.Fatal("a message without headers has a header block")
	}
}

// TestMsg_StoredMessagesGiveBackWhatArrived appends a batch of messages
// with and without replies, headers and payloads, small and large, given
// or not, and reads each part back: what was not given was copied, and a
// large payload that was given was kept as it is.
func TestMsg_StoredMessagesGiveBackWhatArrived(t *testing.T) {
	h := newHub(t, []string{"s.>"})
	sub, err := h.Subscribe(testContext(t), "s.>")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 123)
	large := bytes.Repeat([]byte("L"), 5000)
	in := []fanout.Incoming{
		{Subject: "s.a", Reply: "r.1", Header: nats.Header{"K": {"v", "w"}}, Data: []byte("one")},
		{Subject: "s.b"},
		{Subject: "s.c", Data: []byte("three"), GiveData: true}, // small: copied all the same
		{Subject: "s.d", Header: nats.Header{"Status": {"503"}}},
		{Subject: "s.e", Reply: "r.2", Data: bytes.Clone(large)},                       // large, not given: copied
		{Subject: "s.f", Header: nats.Header{"K": {"v"}}, Data: large, GiveData: true}, // large, given: kept
	}
	want := make([]fanout.Incoming, len(in))
	for i, m := range in {
		want[i] = m
		want[i].Data = bytes.Clone(m.Data)
	}
	h.Streams()[0].Append(at, in...)
	for i := range in[:5] { // what was not given (or was too small to keep) is the caller's again
		for j := range in[i].Data {
			in[i].Data[j] = 'X'
		}
	}
	for i, want := range want {
		m, err := sub.Next(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject() != want.Subject || m.Reply() != want.Reply || string(m.Data()) != string(want.Data) ||
			!reflect.DeepEqual(m.Header(), want.Header) || m.Seq() != uint64(i+1) || m.Stream() != "s.>" || !m.Received().Equal(at) {
			t.Errorf("message %d read back as %q %q %v %q seq %d in %q at %v, want %+v at %v",
				i, m.Subject(), m.Reply(), m.Header(), m.Data(), m.Seq(), m.Stream(), m.Received(), want, at)
		}
		if d := m.Data(); cap(d) != len(d) {
			t.Errorf("message %d: Data has room to append into the next message's bytes (cap %d, len %d)", i, cap(d), len(d))
		}
		if kept := len(m.Data()) > 0 && &m.Data()[0] == &large[0]; kept != (i == 5) {
			t.Errorf("message %d: payload kept where it was given: %v", i, kept)
		}
	}
}
