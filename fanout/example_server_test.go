package fanout_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// Other processes consume over the Unix socket with a stock NATS client.
// Here a nats.go client in the same program stands in for them.
func ExampleServer() {
	hub, _ := fanout.NewHub([]string{"orders.>"})
	defer hub.Close()
	srv := fanout.NewServer(hub, fanout.ServerConfig{}, nil)
	defer srv.Close()

	dir, _ := os.MkdirTemp("", "natsfan")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "natsfan.sock")
	ln, err := fanout.ListenUnix(path, 0o660)
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)

	// The consumer: nats.go, dialing the socket.
	nc, err := nats.Connect("nats://localhost", nats.SetCustomDialer(unixDialer(path)))
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	sub, _ := nc.SubscribeSync("orders.*.paid")
	nc.Flush() // once natsfan has answered, it has the subscription

	// What ingest does for every message from upstream.
	hub.Streams()[0].Append(time.Now(), fanout.Incoming{Subject: "orders.eu.paid", Header: nats.Header{"Id": {"o-1"}}, Data: []byte("42.00")})

	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Subject, msg.Header.Get("Id"), string(msg.Data))
	// Output: orders.eu.paid o-1 42.00
}

type unixDialer string

func (path unixDialer) Dial(_, _ string) (net.Conn, error) { return net.Dial("unix", string(path)) }
