//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// fileIsTerminal reports whether f is a terminal: only a terminal answers
// the ioctl that asks for its window size (anything else fails with
// ENOTTY). TIOCGWINSZ has the same name on every Unix, unlike the ioctl
// that reads termios.
func fileIsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil
}
