package fanout

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unsent returns how much of what was written to nc its peer has not taken
// yet, as the kernel counts it (SIOCOUTQ: bytes not yet acknowledged on
// TCP, send-buffer memory on a Unix socket, which falls as the client reads
// what was sent), or -1 where it cannot tell. It lets the writer see that a
// client reads even while a write makes no progress: the kernel wakes a
// blocked writer only once much of the socket's buffer has drained.
func unsent(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	if raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			n = v
		}
	}) != nil {
		return -1
	}
	return n
}
