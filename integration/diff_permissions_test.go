package integration

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The allow-list scenario: natsfan's NATSFAN_PUBLISH_ALLOW and
// NATSFAN_SUBSCRIBE_ALLOW against a nats-server whose user (the one a client
// without credentials gets) has the same allow-lists: what is refused, with
// which error, and what still goes through.

// allowOptions allow publishing to and subscribing within orders.> and the
// clients' inboxes, in natsfan and for nats-server's no-auth user.
var allowOptions = diffOptions{
	Subjects: "events.>",
	Env:      []string{"NATSFAN_PUBLISH_ALLOW=orders.>,_INBOX.>", "NATSFAN_SUBSCRIBE_ALLOW=orders.>,_INBOX.>"},
	Direct: func(o *server.Options) {
		allow := &server.SubjectPermission{Allow: []string{"orders.>", "_INBOX.>"}}
		o.Users = []*server.User{{Username: "pod", Password: "pod", Permissions: &server.Permissions{Publish: allow, Subscribe: allow}}}
		o.NoAuthUser = "pod"
	},
}

// TestDifferential_AllowListsRefuseWithPermissionsViolations: a SUB or PUB
// outside the allow-lists gets nats-server's permissions violation, and the
// connection goes on: what is allowed still arrives.
func TestDifferential_AllowListsRefuseWithPermissionsViolations(t *testing.T) {
	type refused struct {
		Errors   []string `json:"errors"`   // what nats.go's error handler got, in order
		Received []string `json:"received"` // payloads the allowed subscription received
	}
	differential(t, allowOptions, func(t *testing.T, tg *diffTarget) refused {
		var mu sync.Mutex
		obs := refused{Errors: []string{}, Received: []string{}}
		nc := tg.Connect(t, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			defer mu.Unlock()
			obs.Errors = append(obs.Errors, err.Error())
		}))
		allowed := subscribeAll(t, nc, "orders.*", "", nil)
		for _, subject := range []string{"billing.>", ">", "orders"} { // outside orders.> all three
			if _, err := nc.SubscribeSync(subject); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, nc)
		publishAll(t, nc,
			&nats.Msg{Subject: "orders.eu", Data: []byte("allowed 1")},
			&nats.Msg{Subject: "billing.eu", Data: []byte("refused")},
			&nats.Msg{Subject: "orders.us", Data: []byte("allowed 2")})
		for _, m := range receiveUntil(t, allowed, "orders.us") {
			obs.Received = append(obs.Received, string(m.Payload))
		}
		// nats.go calls the error handler on a goroutine of its own, after
		// the -ERRs that came before the messages.
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(obs.Errors)
			mu.Unlock()
			if n >= 4 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
		}
		if !nc.IsConnected() {
			t.Errorf("%s: the connection did not survive the violations: %v", tg.Name, nc.LastError())
		}
		mu.Lock()
		defer mu.Unlock()
		return obs
	})
}
