package buffer

import (
	"errors"
	"slices"
	"testing"
)

// readEvents reads batches until it has n events or Next fails.
func readEvents(t *testing.T, r *Reader[int], n int) []int {
	t.Helper()
	var got []int
	for len(got) < n {
		batch, err := r.Next(testContext(t))
		if err != nil {
			t.Fatalf("Next after %v: %v", got, err)
		}
		for i, e := range batch.Events {
			if want := batch.FirstSeq + uint64(i); uint64(e) != want {
				t.Fatalf("event %d carries sequence %d", e, want)
			}
		}
		got = append(got, batch.Events...)
	}
	return got
}

func TestReader_StartPositions(t *testing.T) {
	b := New[int](Retention{MaxMessages: 5})
	appendN(b, 1, 8) // events 1..8; the window holds 4..8

	tests := []struct {
		name       string
		start      Start
		wantMissed uint64
		want       []int
	}{
		{"head sees only new events", StartAtHead(), 0, []int{9, 10}},
		{"oldest sees the window", StartAtOldest(), 0, []int{4, 5, 6, 7, 8, 9, 10}},
		{"after a sequence in the window", StartAfter(6), 0, []int{7, 8, 9, 10}},
		{"after the newest", StartAfter(8), 0, []int{9, 10}},
		{"after a sequence that left the window", StartAfter(1), 2, []int{4, 5, 6, 7, 8, 9, 10}},
		{"after zero, nothing left yet", StartAfter(0), 3, []int{4, 5, 6, 7, 8, 9, 10}},
		{"after a sequence not reached yet", StartAfter(100), 0, []int{9, 10}},
	}
	readers := make([]*Reader[int], len(tests))
	for i, tt := range tests {
		r, missed := b.NewReader(tt.start, Lag{})
		if missed != tt.wantMissed {
			t.Errorf("%s: missed = %d, want %d", tt.name, missed, tt.wantMissed)
		}
		readers[i] = r
	}
	appendN(b, 9, 2)
	for i, tt := range tests {
		if got := readEvents(t, readers[i], len(tt.want)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: read %v, want %v", tt.name, got, tt.want)
		}
		readers[i].Close()
	}
}

func TestReader_StartAfterASequenceInsideABatch(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	b.Append([]int{1, 2, 3, 4}, 40)
	b.Append([]int{5, 6}, 20)
	r, _ := b.NewReader(StartAfter(2), Lag{})
	defer r.Close()
	batch, err := r.Next(testContext(t))
	if err != nil || !slices.Equal(batch.Events, []int{3, 4}) || batch.FirstSeq != 3 {
		t.Fatalf("first batch = %+v, %v; want events 3, 4 from sequence 3", batch, err)
	}
	if got := readEvents(t, r, 2); !slices.Equal(got, []int{5, 6}) {
		t.Fatalf("then read %v, want [5 6]", got)
	}
}

func TestReader_SkipsEmptyItems(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	defer r.Close()
	b.Append(nil, 0)
	b.Append([]int{}, 0)
	b.Append([]int{1}, 10)
	batch, err := r.Next(testContext(t))
	if err != nil || !slices.Equal(batch.Events, []int{1}) {
		t.Fatalf("Next = %+v, %v; want the first non-empty item", batch, err)
	}
}

func TestReader_LagIsMessagesAndBytesBehindTheHead(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	defer r.Close()
	appendN(b, 1, 7)
	if msgs, bytes := r.Lag(); msgs != 7 || bytes != 70 {
		t.Fatalf("Lag = %d, %d; want 7, 70", msgs, bytes)
	}
	readEvents(t, r, 3)
	if msgs, bytes := r.Lag(); msgs != 4 || bytes != 40 {
		t.Fatalf("Lag after reading 3 = %d, %d; want 4, 40", msgs, bytes)
	}
	if r.Seq() != 3 {
		t.Fatalf("Seq = %d, want 3", r.Seq())
	}
}

func TestReader_PastItsLagLimitIsCutOff(t *testing.T) {
	for _, lag := range []Lag{{MaxMessages: 5}, {MaxBytes: 50}} {
		b := New[int](Retention{MaxMessages: 100})
		r, _ := b.NewReader(StartAtHead(), lag)
		appendN(b, 1, 5)
		readEvents(t, r, 5) // within the limit
		appendN(b, 6, 6)
		b.EnforceLag()
		if _, err := r.Next(testContext(t)); !errors.Is(err, ErrLagged) {
			t.Fatalf("%+v: Next 6 behind = %v, want ErrLagged", lag, err)
		}
		if _, err := r.Next(testContext(t)); !errors.Is(err, ErrLagged) {
			t.Fatalf("%+v: Next after the cut = %v, want ErrLagged again", lag, err)
		}
		if b.Readers() != 0 {
			t.Fatalf("%+v: a cut reader is still registered", lag)
		}
	}
}

func TestReader_PastItsLagLimitSkipsAheadWithTheGapReported(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	r, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 5, Policy: LagSkip})
	defer r.Close()
	appendN(b, 1, 2)
	readEvents(t, r, 2)
	appendN(b, 3, 10) // 10 behind: skip to the head, having missed 3..12
	if n := b.EnforceLag(); n != 1 {
		t.Fatalf("EnforceLag moved %d readers, want 1", n)
	}
	appendN(b, 13, 1)
	batch, err := r.Next(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if batch.Missed != 10 || !slices.Equal(batch.Events, []int{13}) {
		t.Fatalf("after the skip: %+v; want event 13 with 10 missed", batch)
	}
	appendN(b, 14, 1)
	if batch, _ := r.Next(testContext(t)); batch.Missed != 0 {
		t.Fatalf("the gap was reported twice: %+v", batch)
	}
}

func TestBuffer_EnforceLagCutsOffAReaderThatStoppedReading(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	stuck, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 3})
	skipper, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 3, Policy: LagSkip})
	fine, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 30})
	defer fine.Close()
	defer skipper.Close()
	appendN(b, 1, 4)
	if n := b.EnforceLag(); n != 2 {
		t.Fatalf("EnforceLag moved %d readers, want 2", n)
	}
	if msgs, _ := stuck.Lag(); msgs != 0 {
		t.Fatalf("a cut reader still reports lag %d", msgs)
	}
	if msgs, _ := skipper.Lag(); msgs != 0 {
		t.Fatalf("a skipped reader still reports lag %d", msgs)
	}
	if msgs, _ := fine.Lag(); msgs != 4 {
		t.Fatalf("the reader within its limit was moved: lag %d", msgs)
	}
	if _, err := stuck.Next(testContext(t)); !errors.Is(err, ErrLagged) {
		t.Fatalf("stuck reader: Next = %v, want ErrLagged", err)
	}
	if got, want := b.LagStats(), (LagStats{Cut: 1, Skipped: 1, Missed: 4}); got != want {
		t.Fatalf("LagStats = %+v, want %+v", got, want)
	}
}

// blockedNext calls r.Next in the background, waits until it is parked
// waiting for an item, and returns where its error will arrive.
func blockedNext(t *testing.T, r *Reader[int]) <-chan error {
	t.Helper()
	ctx := testContext(t)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Next(ctx)
		errc <- err
	}()
	waitBlocked(t, 1)
	return errc
}

func TestReader_CloseWakesABlockedNext(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	errc := blockedNext(t, r)
	r.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next = %v, want ErrClosed", err)
	}
	if b.Readers() != 0 {
		t.Fatal("a closed reader is still registered")
	}
}

func TestReader_CutWithAnErrorWakesNextWithThatError(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	errc := blockedNext(t, r)
	shutdown := errors.New("shutting down")
	r.Cut(shutdown)
	r.Close() // the first Cut wins
	if err := <-errc; !errors.Is(err, shutdown) {
		t.Fatalf("Next = %v, want %v", err, shutdown)
	}
}

func TestReader_ReadsWhatWasAppendedBeforeTheErrorThenTheError(t *testing.T) {
	b := New[int](Retention{MaxMessages: 10})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	defer r.Close()
	appendN(b, 1, 2)
	end := errors.New("the end")
	b.AppendErr(end)
	if got := readEvents(t, r, 2); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("read %v, want [1 2]", got)
	}
	if _, err := r.Next(testContext(t)); !errors.Is(err, end) {
		t.Fatalf("Next = %v, want %v", err, end)
	}
}

func TestReader_PastItsLagLimitAfterTheBufferEndedStillSeesTheEnd(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	r, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 2, Policy: LagSkip})
	defer r.Close()
	appendN(b, 1, 5)
	end := errors.New("the end")
	b.AppendErr(end)
	b.EnforceLag()
	if got := readEvents(t, r, 5); !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("read %v, want everything before the end", got)
	}
	if _, err := r.Next(testContext(t)); !errors.Is(err, end) {
		t.Fatalf("Next = %v, want %v", err, end)
	}
}

func TestReader_ThatKeepsReadingButTooSlowlyIsCutOffByItsOwnNext(t *testing.T) {
	b := New[int](Retention{MaxMessages: 1000})
	r, _ := b.NewReader(StartAtHead(), Lag{MaxMessages: 10})
	appendN(b, 1, 500)
	for read := 0; ; read++ {
		_, err := r.Next(testContext(t))
		if errors.Is(err, ErrLagged) {
			return
		}
		if err != nil || read > 100 {
			t.Fatalf("after %d reads 490 behind: %v; want ErrLagged within a few reads", read, err)
		}
	}
}

// TestBuffer_ChangedClosesOnAppendAndEnd: the channel Changed returns is
// closed once there is an event after the given number, or the buffer
// ended, and not before.
func TestBuffer_ChangedClosesOnAppendAndEnd(t *testing.T) {
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	b := New[int](Retention{MaxMessages: 10})
	ch := b.Changed(0)
	if closed(ch) {
		t.Fatal("Changed(0) of an empty buffer is closed")
	}
	b.Append([]int{1, 2}, 2)
	if !closed(ch) {
		t.Fatal("Changed(0) not closed by an append")
	}
	if !closed(b.Changed(1)) {
		t.Fatal("Changed(1) not closed while event 2 is there")
	}
	ch = b.Changed(2)
	if closed(ch) || b.Ended() {
		t.Fatal("Changed(2) closed, or the buffer ended, with nothing after event 2")
	}
	b.AppendErr(ErrClosed)
	if !closed(ch) || !closed(b.Changed(2)) || !b.Ended() {
		t.Fatal("the end of the buffer does not close Changed, or Ended is false")
	}
}

// TestReader_SkipToPassesOverWhatCameBefore skips a reader to a position
// taken after some appends: it reads on from there, its lag drops to what
// came after, and a position behind it does not move it back.
func TestReader_SkipToPassesOverWhatCameBefore(t *testing.T) {
	b := New[int](Retention{MaxMessages: 100})
	r, _ := b.NewReader(StartAtHead(), Lag{})
	defer r.Close()
	appendN(b, 1, 3)
	early := b.Tail()
	appendN(b, 4, 3)
	p := b.Tail()
	appendN(b, 7, 2)

	if !r.SkipTo(p) {
		t.Fatal("SkipTo did not move a reader standing before the position")
	}
	if got := r.Seq(); got != 6 {
		t.Fatalf("Seq after SkipTo = %d, want 6", got)
	}
	if lag, _ := r.Lag(); lag != 2 {
		t.Fatalf("lag after SkipTo = %d, want 2", lag)
	}
	if r.SkipTo(early) {
		t.Fatal("SkipTo moved the reader back")
	}
	if got := readEvents(t, r, 2); !slices.Equal(got, []int{7, 8}) {
		t.Fatalf("read %v after SkipTo, want [7 8]", got)
	}
	if lag, _ := r.Lag(); lag != 0 {
		t.Fatalf("lag after reading on = %d, want 0", lag)
	}
}
