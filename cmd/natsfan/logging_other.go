//go:build !unix

package main

import "os"

// fileIsTerminal reports false: natsfan serves a Unix socket and runs on
// Unix; elsewhere NATSFAN_LOG_FORMAT=auto always means JSON.
func fileIsTerminal(*os.File) bool { return false }
