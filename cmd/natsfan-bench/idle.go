package main

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// idleResult is the sidecar's memory with Consumers idle socket consumers.
type idleResult struct {
	Consumers int
	RSS       int64 // VmRSS once they are all connected and subscribed
	PeakRSS   int64 // VmHWM so far
}

// measureIdle runs the sidecar as a child on a fresh upstream and connects
// idle socket consumers to it in this process, each a nats.go connection
// with one subscription, growing to each count of steps in turn, and
// returns its memory at each step (and with none, first).
func measureIdle(natsfan sidecar, dir string, steps []int) ([]idleResult, error) {
	up, _, err := startUpstream()
	if err != nil {
		return nil, err
	}
	defer up.Shutdown()
	sc, sock, err := startSidecar(natsfan, up.ClientURL(), dir, false)
	if err != nil {
		return nil, err
	}
	defer sc.stop()
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	measure := func() (idleResult, error) {
		rss, peak, err := memory(sc.pid())
		return idleResult{Consumers: len(conns), RSS: rss, PeakRSS: peak}, err
	}
	r, err := measure()
	if err != nil {
		return nil, err
	}
	results := []idleResult{r}
	for _, step := range steps {
		more, err := connectMany(step-len(conns), func(int) (*nats.Conn, error) { return connectOneIdle(sock) })
		conns = append(conns, more...)
		if err != nil {
			return results, err
		}
		if err := sc.exited(); err != nil {
			return results, err
		}
		r, err := measure()
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// connectMany makes n connections with connect, given 0 to n-1, eight at
// a time, and returns those it made.
func connectMany(n int, connect func(i int) (*nats.Conn, error)) ([]*nats.Conn, error) {
	const workers = 8
	var (
		mu       sync.Mutex
		conns    []*nats.Conn
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				nc, err := connect(i)
				mu.Lock()
				if nc != nil {
					conns = append(conns, nc)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return conns, fmt.Errorf("cannot connect a consumer: %w", firstErr)
	}
	return conns, nil
}

func connectOneIdle(sock string) (*nats.Conn, error) {
	nc, err := dialSocket(sock)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Subscribe(benchSubject, func(*nats.Msg) {}); err != nil {
		return nc, err
	}
	return nc, nc.Flush()
}
