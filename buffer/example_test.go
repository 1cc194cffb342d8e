package buffer_test

import (
	"context"
	"fmt"

	"github.com/natsfan/natsfan/buffer"
)

func Example() {
	// Keep the last 3 events for readers that start late.
	b := buffer.New[string](buffer.Retention{MaxMessages: 3})

	live, _ := b.NewReader(buffer.StartAtHead(), buffer.Lag{MaxMessages: 100})
	defer live.Close()

	for _, s := range []string{"a", "b", "c", "d"} {
		b.Append([]string{s}, uint64(len(s))) // the single writer
	}

	late, _ := b.NewReader(buffer.StartAtOldest(), buffer.Lag{MaxMessages: 100})
	defer late.Close()

	ctx := context.Background()
	batch, _ := live.Next(ctx)
	fmt.Println("live reader:", batch.Events, "seq", batch.FirstSeq)
	batch, _ = late.Next(ctx)
	fmt.Println("late reader:", batch.Events, "seq", batch.FirstSeq)
	lag, _ := late.Lag()
	fmt.Println("late reader is", lag, "behind")
	// Output:
	// live reader: [a] seq 1
	// late reader: [b] seq 2
	// late reader is 2 behind
}
