package fanout

import (
	"errors"
	"net"
	"slices"
	"time"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// A connection's writer runs only while the connection is busy: most
// consumers are idle most of the time, and a goroutine parked for each of
// them would hold a stack of 4 KiB or more. Whoever queues a frame calls
// wake, which starts the writer if none runs, or tells the one that runs
// that there is more. The writer sends until nothing has been queued for
// ServerConfig.IdleAfter, then stops: a connection that receives now and
// then keeps its writer, and its messages the latency of one hand-off, not
// of starting a goroutine. A writer whose last flight held only the
// server's own frames (INFO, PONG, PING, +OK, -ERR) stops as soon as it has
// sent them: a consumer that has just connected, or answered a PING, is
// not receiving.
//
// writing is set while a writer runs, and only a writer that sets it
// (compare-and-swap from false) runs: so at most one runs at a time. A
// writer that has found nothing queued for IdleAfter clears writing, then
// looks once more for a kick: a wake that came between its last look at out and the clear saw
// writing set and only kicked, so the writer takes over again, if no new
// writer has meanwhile. Once the connection is closing, the writer sends
// what is left, closes the socket and never clears writing: no writer runs
// after it.

// wake makes sure a writer sends what is queued in out.
func (c *conn) wake() {
	if c.writing.CompareAndSwap(false, true) {
		go c.write()
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// write sends what is queued until nothing is, and on close sends what is
// left (the -ERR that closed the connection among it) before closing the
// socket.
func (c *conn) write() {
	// Reused between the writes of this run: the flight taken from out,
	// and the backing array of the slice writev consumes (WriteTo empties
	// the slice it is given, down to no capacity at all).
	var f flight
	var iovs net.Buffers
	var linger *time.Timer
	carried := false // the last flight carried messages, not only the server's own frames
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		select {
		case <-c.kick: // whatever it was for is in out now
		default:
		}
		c.mu.Lock()
		closing := c.closed
		c.out.take(&f)
		waiters := c.waiters
		c.waiters = nil
		c.madeRoomLocked()
		c.mu.Unlock()
		for _, g := range waiters {
			g.wake()
		}
		sent := len(f.segs) > 0
		if sent {
			iovs = append(iovs[:0], f.segs...)
			iov := iovs
			n, err := c.send(&iov)
			delivered := f.delivered(n)
			carried = slices.ContainsFunc(f.msgs, func(n int) bool { return n > 0 })
			c.srv.delivered.Add(uint64(delivered))
			if delivered > 0 && err == nil {
				c.active() // not for what a failed write had written before it blocked
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					c.closeWith(closeWriteDeadline, "")
				} else {
					c.closeWith(CloseWriteError, "")
				}
				closing = true
			}
		}
		f.release()
		if closing {
			c.nc.Close()
			// What was queued while the last write failed will never be
			// sent: give its chunks back now, not when the connection is
			// collected, which timers that still point at it may put off.
			c.mu.Lock()
			c.out.take(&f)
			c.mu.Unlock()
			f.release()
			close(c.writerDone)
			return
		}
		if sent || !c.idle() {
			continue // more may have come meanwhile, or the connection is closing
		}
		if carried { // a consumer that is receiving: wait for more
			if linger == nil {
				linger = time.NewTimer(c.srv.cfg.IdleAfter)
			} else {
				linger.Reset(c.srv.cfg.IdleAfter)
			}
			select {
			case <-c.kick:
				continue
			case <-linger.C:
			}
		}
		c.writing.Store(false)
		select {
		case <-c.kick:
			if c.writing.CompareAndSwap(false, true) {
				continue
			}
		default:
		}
		return
	}
}

// idle reports whether the writer has nothing to do: nothing queued, and
// the connection open.
func (c *conn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.size == 0 && !c.closed
}

// ping sends the client a PING every PingInterval, and closes a
// connection that left more than MaxPingsOut unanswered, as nats-server
// does. It runs on its own timer, so that an idle connection needs no
// goroutine for it.
func (c *conn) ping() {
	if int(c.pingsOut.Add(1)) > c.srv.cfg.MaxPingsOut {
		c.closeWith(CloseStale, protocol.TextStaleConnection)
		return
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		// Not waiting for room, as a timer must not: a PING is the
		// server's own frame, one per interval.
		c.out.appendFrame(protocol.AppendPing)
	}
	c.mu.Unlock()
	if closed {
		return
	}
	c.wake()
	c.pinger.Reset(c.srv.cfg.PingInterval)
}
