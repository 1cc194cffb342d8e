package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
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
	orders.Append(now,
		fanout.Incoming{Subject: "orders.eu.created", Data: []byte("o-1")},
		fanout.Incoming{Subject: "orders.us.created", Data: []byte("o-2")}, // filtered out
		fanout.Incoming{Subject: "orders.eu.paid", Data: []byte("o-1")},
	)

	for range 2 {
		msg, err := sub.Next(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s (#%d of %s)\n", msg.Subject(), msg.Data(), msg.Seq(), msg.Stream())
	}
	// Output:
	// orders.eu.created o-1 (#1 of orders.>)
	// orders.eu.paid o-1 (#3 of orders.>)
}

// A consumer that must not lose its place across restarts saves its
// Position, here as JSON, and resumes with StartAfter. Given to the hub of a
// later run, whose sequence numbers start again at 1, the position cannot
// say what was missed: the subscription starts at the oldest message the
// stream retains, after a gap of unknown size.
func ExampleStartAfter() {
	ctx := context.Background()
	newMsg := func(subject string) fanout.Incoming { return fanout.Incoming{Subject: subject} }

	// One run of the program.
	hub, err := fanout.NewHub([]string{"orders.>"})
	if err != nil {
		panic(err)
	}
	sub, err := hub.Subscribe(ctx, "orders.>", fanout.StartAtOldest())
	if err != nil {
		panic(err)
	}
	hub.Streams()[0].Append(time.Now(), newMsg("orders.1"), newMsg("orders.2"), newMsg("orders.3"))
	for range 2 {
		if _, err := sub.Next(ctx); err != nil {
			panic(err)
		}
	}
	saved, _ := json.Marshal(sub.Position()) // after orders.2
	hub.Close()

	// The next run reads saved back and resumes after it.
	var pos fanout.Position
	if err := json.Unmarshal(saved, &pos); err != nil {
		panic(err)
	}
	hub, err = fanout.NewHub([]string{"orders.>"})
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	hub.Streams()[0].Append(time.Now(), newMsg("orders.4"), newMsg("orders.5"))
	sub, err = hub.Subscribe(ctx, "orders.>", fanout.StartAfter(pos))
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	for range 3 {
		msg, err := sub.Next(ctx)
		var gap *fanout.GapError
		switch {
		case errors.As(err, &gap) && gap.Unknown:
			fmt.Println("gap of unknown size on", gap.Stream)
		case err != nil:
			panic(err)
		default:
			fmt.Printf("%s (#%d)\n", msg.Subject(), msg.Seq())
		}
	}
	// Output:
	// gap of unknown size on orders.>
	// orders.4 (#1)
	// orders.5 (#2)
}
