package validate

import (
	"fmt"
	"strconv"
	"strings"
)

// natsfan's memory, as measured with deploy/tools/measure (README.md,
// "Sizing memory"): a fixed part, the buffers, whose byte limits count what
// their messages cost in memory, bookkeeping included, and the ingest
// backlog, which nats.go holds as one allocation per message with its own
// bookkeeping.
const (
	idleMemory         = 16 << 20 // RSS with nothing buffered: 14 MiB measured
	windowSlack        = 1.3      // RSS per byte the buffers' limits count, with the connections' buffers and the heap's fragmentation: 1.28 measured
	messageOverhead    = 320      // bytes per message in the ingest backlog beyond its own: 270-320 measured
	allocationSlack    = 1.15     // message bytes in the ingest backlog as allocated: up to 12% more measured
	goMemLimitHeadroom = 16 << 20 // RSS above GOMEMLIMIT once the GC holds to it: 6 MiB measured
	sharedFrames       = 8 << 20  // per subject: MSG frames shared by socket consumers (fanout's wireBudget)
)

// memoryNeed is what natsfan's configuration lets it hold, in bytes: what
// the memory request must cover (the buffers at their limits) and what the
// memory limit must cover (plus every subscription's ingest backlog at its
// limit, which builds up only when natsfan cannot keep up with upstream).
type memoryNeed struct {
	request, limit int64
	explain        string
}

// estimateMemory computes the memory need from natsfan's settings (setting
// returns a variable's value, or its default). A consumer pins messages as
// far back as its lag limit, so a subject holds the larger of the retention
// window and the lag limit; their byte limits bound it, whatever the count
// limits say, as they count each message's bookkeeping too. It fails if a
// count or byte limit is off, since the need then depends on the traffic.
func estimateMemory(setting func(string) string) (memoryNeed, error) {
	num := func(name string) (int64, error) {
		v, err := strconv.ParseInt(strings.TrimSpace(setting(name)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		return v, nil
	}
	size := func(name string) (int64, error) {
		v, err := parseSize(setting(name))
		if err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		return v, nil
	}
	var errs []string
	get := func(f func(string) (int64, error), name string) int64 {
		v, err := f(name)
		if err != nil {
			errs = append(errs, err.Error())
		}
		return v
	}
	retN, retB := get(num, "NATSFAN_RETENTION_MESSAGES"), get(size, "NATSFAN_RETENTION_BYTES")
	lagN, lagB := get(num, "NATSFAN_CONSUMER_MAX_LAG_MESSAGES"), get(size, "NATSFAN_CONSUMER_MAX_LAG_BYTES")
	pendN, pendB := get(num, "NATSFAN_INGEST_PENDING_MESSAGES"), get(size, "NATSFAN_INGEST_PENDING_BYTES")
	if len(errs) > 0 {
		return memoryNeed{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if retN == 0 || retB == 0 {
		return memoryNeed{}, fmt.Errorf("NATSFAN_RETENTION_MESSAGES=%d, NATSFAN_RETENTION_BYTES=%d: with either limit off, the memory natsfan needs depends on the size of the messages, and no request can be checked against it; set both", retN, retB)
	}
	subjects := 0
	for _, s := range strings.Split(setting("NATSFAN_SUBJECTS"), ",") {
		if strings.TrimSpace(s) != "" {
			subjects++
		}
	}
	subjects = max(subjects, 1)
	window := int64(float64(max(retB, lagB))*windowSlack) + sharedFrames
	backlog := int64(float64(pendB)*allocationSlack) + pendN*messageOverhead
	need := memoryNeed{
		request: idleMemory + int64(subjects)*window,
		limit:   idleMemory + int64(subjects)*(window+backlog),
	}
	need.explain = fmt.Sprintf("%d subject(s) x (max(retention, lag): at most %d messages in %s, and %s of shared frames) = %s held, plus %s idle; an ingest backlog adds %s per subject (%d messages, %s)",
		subjects, max(retN, lagN), mib(max(retB, lagB)), mib(sharedFrames), mib(int64(subjects)*window), mib(idleMemory), mib(backlog), pendN, mib(pendB))
	return need, nil
}
