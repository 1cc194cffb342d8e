package fanout

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConn_AnUNSUBMaximumIsNeverOvershotWhileMessagesFlow races UNSUBs
// with a maximum of 1 against deliveries of a busy stream, and fails on
// the first subscription that got more than its maximum after its UNSUB was
// answered.
//
// The client's view: with verbose on, the UNSUB's +OK is queued once the
// maximum is stored, behind every message sent before. A subscription that
// got no message before that +OK may get one after it; one that got a
// message before it may get none after. More means natsfan checked the
// count and stored the maximum apart, and a delivery came between.
//
// That window is a few instructions wide, so the test widens the odds: it
// runs more Ps than the machine has cores, with goroutines that keep them
// busy, so that the OS preempts a thread inside the window now and then.
// Before the check and the store shared conn.mu, it failed in most runs of
// a few seconds under -race.
func TestConn_AnUNSUBMaximumIsNeverOvershotWhileMessagesFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("a stress test of a few seconds")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4 * runtime.NumCPU()))
	srv, path := serveHub(t, []string{"s"}, ServerConfig{})
	st := srv.hub.Streams()[0]

	const clients = 4
	run := 3 * time.Second
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	spin := func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
	}
	for range runtime.NumCPU() {
		wg.Add(1)
		go spin()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				st.Append(time.Now(), Incoming{Subject: "s", Data: []byte(strconv.Itoa(i))})
			}
		}
	}()

	found := make(chan string, clients)
	var readers sync.WaitGroup
	for range clients {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := nc.Write([]byte("CONNECT {\"verbose\":true}\r\n")); err != nil {
			t.Fatal(err)
		}
		// Pairs of SUB and UNSUB with a maximum of 1, as fast as they are
		// answered, at most 64 unanswered.
		unanswered := make(chan struct{}, 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sid := 1; ; sid++ {
				select {
				case <-stop:
					return
				case unanswered <- struct{}{}:
				}
				if _, err := fmt.Fprintf(nc, "SUB s %d\r\nUNSUB %d 1\r\n", sid, sid); err != nil {
					return
				}
			}
		}()
		readers.Add(1)
		go func() {
			defer readers.Done()
			pairs, v := overshotMaximum(nc, unanswered, time.Now().Add(run))
			if v != "" {
				found <- v
			}
			t.Logf("%d pairs answered", pairs)
		}()
	}
	readers.Wait()
	select {
	case v := <-found:
		t.Fatal(v)
	default:
	}
}

// overshotMaximum reads what a client of SUB and UNSUB-1 pairs receives
// until the deadline, taking a token from unanswered for each UNSUB
// answered. It describes the first subscription that got more than its
// maximum after its UNSUB's +OK, or returns "", with how many pairs were
// answered.
func overshotMaximum(nc net.Conn, unanswered <-chan struct{}, deadline time.Time) (int, string) {
	_ = nc.SetReadDeadline(deadline)
	r := bufio.NewReaderSize(nc, 64<<10)
	oks := -1               // CONNECT's, then two per pair: SUB's, then UNSUB's
	before := map[int]int{} // messages of a sid before its UNSUB's +OK
	after := map[int]int{}  // and after
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return oks / 2, "" // the deadline
		}
		switch {
		case strings.HasPrefix(line, "+OK"):
			oks++
			if oks%2 == 0 {
				<-unanswered
				old := oks/2 - 1000 // long done: nothing more can come for it
				delete(before, old)
				delete(after, old)
			}
		case strings.HasPrefix(line, "MSG "):
			f := strings.Fields(line)
			sid, _ := strconv.Atoi(f[2])
			if _, err := r.ReadString('\n'); err != nil { // the payload
				return oks / 2, ""
			}
			if sid <= oks/2 {
				after[sid]++
			} else {
				before[sid]++
			}
			if after[sid] > 0 && before[sid]+after[sid] > 1 {
				return oks / 2, fmt.Sprintf("sid %d with UNSUB maximum 1 got %d messages before its UNSUB's +OK and %d after",
					sid, before[sid], after[sid])
			}
		case strings.HasPrefix(line, "PING"):
			_, _ = nc.Write([]byte("PONG\r\n"))
		case strings.HasPrefix(line, "-ERR"):
			return oks / 2, "server sent " + strings.TrimSpace(line)
		}
	}
}
