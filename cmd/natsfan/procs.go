package main

import (
	"runtime"
	"strconv"

	"github.com/caarlos0/env/v10"
	"go.uber.org/zap"
)

// minProcs is the fewest Ps (GOMAXPROCS) natsfan runs with. The Go
// runtime picks one P where the process may use a single CPU (a container
// pinned to one core, a one-vCPU node), and with one P ingest starves the
// consumers: nats.go's reader never blocks while upstream has data, and Go
// hands a busy P to another goroutine only every 10 ms, so in a burst the
// reader takes the CPU and a lone consumer falls behind until its lag
// limit cuts it off. Pinned to one CPU (taskset -c 0), one consumer of the
// benchmark program's burst received 78–83 k messages/s of 128 B and lost
// 1.8 of its 2 million with one P, and 661–683 k/s, losing none, with two:
// two Ps are two threads, which the kernel shares the CPU between.
const minProcs = 2

// procsFor returns the GOMAXPROCS natsfan runs with, given the runtime's
// current one and the GOMAXPROCS environment variable: at least minProcs,
// unless the variable sets it (to a positive number: the runtime ignores
// any other value, and so does natsfan).
func procsFor(current int, setting string) int {
	if n, err := strconv.Atoi(setting); err == nil && n > 0 {
		return current
	}
	return max(current, minProcs)
}

// ensureProcs sets GOMAXPROCS to procsFor's answer, and logs what it did
// or, if GOMAXPROCS sets fewer than minProcs, what that risks.
func ensureProcs(environ []string, log *zap.Logger) {
	current := runtime.GOMAXPROCS(0)
	switch want := procsFor(current, env.ToMap(environ)["GOMAXPROCS"]); {
	case want != current:
		runtime.GOMAXPROCS(want)
		log.Info("GOMAXPROCS raised, so that ingest and delivery each have a thread (set GOMAXPROCS to choose)",
			zap.Int("from", current), zap.Int("to", want))
	case current < minProcs:
		log.Warn("GOMAXPROCS is below 2: in a burst, ingest may take the CPU from consumers until their lag limit cuts them off",
			zap.Int("GOMAXPROCS", current))
	}
}
