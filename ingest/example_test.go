package ingest_test

import (
	"context"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// The wiring in a sidecar: a hub with a stream per pattern, an Ingester
// feeding them, Ready behind /readyz, and a drain on shutdown: ingest first,
// so that consumers get everything received, then the hub.
func Example() {
	logger := zap.NewExample()
	hub, err := fanout.NewHub([]string{"orders.>", "prices.*"}, fanout.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	in := ingest.New(ingest.Config{
		URLs:        []string{"nats://natsfan:secret@nats.example.com:4222"},
		NATSOptions: []nats.Option{nats.Name("natsfan")},
	}, hub.Streams(), logger)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Start(ctx); err != nil {
		log.Fatal(err) // a malformed URL or the like: fix the configuration
	}

	// In the /readyz handler:
	if err := in.Ready(); err != nil {
		log.Printf("not ready: %v", err)
	}

	// On SIGTERM:
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Drain(shutdown); err != nil {
		log.Print(err)
	}
	if err := hub.Drain(shutdown); err != nil {
		log.Print(err)
	}
}
