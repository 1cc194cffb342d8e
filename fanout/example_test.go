package fanout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/natsfan/natsfan/fanout"
)

// A Go program that embeds the hub consumes with Subscribe and Next. Here
// the test appends to the streams itself; in natsfan, ingest does, from
// one NATS subscription per stream.
func Example() {
	hub, err := fanout.NewHub([]string{"orders.>", "prices.*"})
	if err != nil {
		panic(err)
	}
	defer hub.Close()

	ctx := context.Background()
	sub, err := hub.Subscribe(ctx, "orders.eu.*")
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	orders := hub.Streams()[0]
	now := time.Now()
	orders.Append(
		fanout.NewMsg("orders.eu.created", "", nil, []byte("o-1"), now),
		fanout.NewMsg("orders.us.created", "", nil, []byte("o-2"), now), // filtered out
		fanout.NewMsg("orders.eu.paid", "", nil, []byte("o-1"), now),
	)

	for range 2 {
		msg, err := sub.Next(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s (#%d of %s)\n", msg.Subject, msg.Data, msg.Seq, msg.Stream)
	}
	// Output:
	// orders.eu.created o-1 (#1 of orders.>)
	// orders.eu.paid o-1 (#3 of orders.>)
}
