// Package integration holds natsfan's end-to-end tests: a real nats-server
// embedded in the test process, real nats.go clients, natsfan's own packages
// wired as the sidecar wires them, and the built binary. Nothing is mocked.
package integration
