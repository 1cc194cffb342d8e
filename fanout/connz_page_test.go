package fanout_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/natsfan/natsfan/fanout"
)

// TestServer_ConnzListsTheSubscriptionsOfThePageOnly asks for one
// connection's subscription details out of 10 connections with 2,000 SUBs
// each: what Connz allocates must be that connection's list, not every
// connection's.
func TestServer_ConnzListsTheSubscriptionsOfThePageOnly(t *testing.T) {
	const conns, subs = 10, 2000
	m := startMonitored(t, fanout.ServerConfig{})
	for i := range conns {
		var b strings.Builder
		for sid := range subs {
			fmt.Fprintf(&b, "SUB a.%d.%d %d\r\n", i, sid, sid)
		}
		m.stuck(t, fmt.Sprint("c", i), b.String())
	}
	allocated := func(opts fanout.ConnzOptions) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cz := m.connz(t, opts)
		runtime.ReadMemStats(&after)
		if len(cz.Conns) != 1 || len(cz.Conns[0].SubsDetail) != subs {
			t.Fatalf("%d connections, the first with %d subscriptions; want 1 with %d", len(cz.Conns), len(cz.Conns[0].SubsDetail), subs)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	page := allocated(fanout.ConnzOptions{SubscriptionsDetail: true, Limit: 1})
	one := allocated(fanout.ConnzOptions{SubscriptionsDetail: true, CID: 1})
	t.Logf("subs=detail&limit=1: %d KiB; cid=1: %d KiB", page>>10, one>>10)
	if page > 2*one+64<<10 {
		t.Errorf("subs=detail&limit=1 allocated %d KiB, want about what one connection's list takes (%d KiB)", page>>10, one>>10)
	}
}
