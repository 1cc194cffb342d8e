package main

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestStartEmbedded_servesClients(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s, url, err := startEmbedded(-1, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":-1") {
		t.Errorf("url = %q", url)
	}

	nc, err := nats.Connect(url, nats.Name("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("greet.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("greet.world", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "greet.world" || string(msg.Data) != "hello" {
		t.Errorf("got %s %q", msg.Subject, msg.Data)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Errorf("embedded JetStream: %v", err)
	}

	warnings := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("embedded NATS server").All()
	if len(warnings) != 1 || !strings.Contains(warnings[0].Message, url) || !strings.Contains(warnings[0].Message, "NATSFAN_NATS_URL") {
		t.Errorf("want one warning naming %s and NATSFAN_NATS_URL, got %v", url, warnings)
	}
}

func TestStartEmbedded_shutdownRemovesWhatJetStreamStored(t *testing.T) {
	s, _, err := startEmbedded(-1, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	dir := s.storeDir
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("JetStream's directory %s after Shutdown: %v", dir, err)
	}
}

func TestStartEmbedded_portInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	start := time.Now()
	s, _, err := startEmbedded(port, zap.NewNop())
	if err == nil {
		s.Shutdown()
		t.Fatal("startEmbedded on a port in use succeeded")
	}
	if !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "NATSFAN_EMBEDDED_PORT") {
		t.Errorf("error %q does not explain itself", err)
	}
	if d := time.Since(start); d >= embeddedReadyTimeout {
		t.Errorf("took %v: waited out the readiness timeout instead of noticing the bind error", d)
	}
}
