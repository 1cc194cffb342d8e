// Package fanouttest holds what the tests of several packages need to know
// of fanout's socket connections, so that each does not work it out again.
package fanouttest

import (
	"os"
	"strconv"
	"strings"
)

// NeverReadBytes is about the most a socket consumer that never reads can
// be sent before it falls behind for good: its connection's encoded frames
// (256 KiB queued and 256 KiB being written, fanout's outbound limit; add a
// frame) and the socket's send buffer, which is the kernel's default, as
// natsfan sets none. A test that wants a consumer stuck publishes more than
// this to it: that its numbers stood still between two looks may only mean
// that its writer had not been scheduled yet.
func NeverReadBytes() int {
	sndbuf := 4 << 20 // the largest default a kernel allows, if /proc does not say
	if b, err := os.ReadFile("/proc/sys/net/core/wmem_default"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			sndbuf = n
		}
	}
	return 2*256<<10 + sndbuf
}
