package main

import (
	"errors"
	"testing"
)

func TestClientEvents_SaysWhatHappened(t *testing.T) {
	var e clientEvents
	if e.String() != "" || e.err() != nil {
		t.Fatalf("nothing happened, but String = %q, err = %v", e.String(), e.err())
	}
	e.failed(errors.New(`nats: permissions violation for publish to "pub.x"`))
	e.failed(errors.New("nats: timeout"))
	e.disconnects++
	want := `2 errors (the first: nats: permissions violation for publish to "pub.x"); 1 disconnect`
	if got := e.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if e.err() == nil {
		t.Error("err = nil, want the events")
	}
}
