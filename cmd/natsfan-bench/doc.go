// Command natsfan-bench measures what natsfan does for a pod against what
// the pod's clients would get from the NATS server directly or from a leaf
// node, in one run on one machine, so that the numbers compare side by side.
// It has four sections, and the idle memory and the own-subjects section
// (own.go):
//
//   - zero-loss: one publisher upstream, N consumers in the pod; the
//     highest publish rate each mode carries with nothing lost (below);
//   - delivery: the same, at a fixed paced rate for latency and in a burst
//     for throughput;
//   - publish: N publishers in the pod, one receiver upstream;
//   - request/reply: one requester in the pod, one responder upstream.
//
// The zero-loss and delivery sections deliver one workload four ways:
//
//   - direct: N nats.go subscribers connected to the upstream nats-server;
//   - leaf: a nats-server running as a leaf node of the upstream (a child
//     process: this program re-executed in its hidden leaf-node role), with
//     N nats.go subscribers on loopback TCP;
//   - natsfan-socket: the natsfan binary (built from the checkout's
//     cmd/natsfan at start, run as a child process), with N nats.go
//     consumers over its Unix socket;
//   - natsfan-inproc: the hub and ingester in this process, with N
//     hub.Subscribe subscriptions.
//
// The publish and request sections run the three modes whose clients are
// stock nats.go connections: direct, leaf and natsfan-socket (the
// in-process API has no publish of its own).
//
// The upstream is a real nats-server, embedded in this process, started
// afresh for every cell (mode, N and message size), as are the leaf node and
// the sidecar.
//
// # Zero loss
//
// For each cell (mode, N, size: --zl-n, default 1, 10, 50 and 200, and
// --sizes and --modes), a search for the highest publish rate the mode
// carries with nothing lost. A burst's rate counts what arrived, so a cell
// that lost most of its messages still shows one; this figure cannot hide
// a loss, because a rate at which anything was lost is not a candidate.
//
// One step offers one rate: on a fresh upstream, mode, N consumers and
// publisher (warmed up as below), the publisher publishes at that rate
// (paced as in the delivery section's paced phase) for --zl-step (3 s),
// then the step waits until every consumer has every message or none
// arrives for 1 s. It passes if nothing is lost (published × N −
// delivered) and the rate was carried: the deliveries, counted from the
// first publish to the last delivery, came at 90% or more of the rate
// offered. A mode that holds the publisher back (nats-server stalls a
// producer whose consumers are behind) or lets a backlog grow and delivers
// it late loses nothing, but does not carry the rate; a message later than
// the 1 s of quiet would fail the step anyway. Each step starts afresh, so
// that a consumer cut off at one rate cannot spoil the next, and so that
// the leaf node's or sidecar's peak RSS is its peak at that rate.
//
// The search starts at --zl-start deliveries/s (100,000, over all N
// consumers: 100,000 ÷ N messages/s), doubles the rate until a step fails
// (or halves it, at most 5 times, until one passes), then bisects
// --zl-bisect times (4), geometrically, between the highest rate that
// passed and the lowest that failed. Reported, from the highest step that
// passed: messages/s and deliveries/s at the consumers, the leaf node's or
// sidecar's CPU seconds per million deliveries (utime+stime, as below)
// and peak RSS; and the lowest offered rate that failed, with what went
// wrong there: messages lost, the publisher held back, deliveries late,
// and who closed whom (the upstream's and the leaf node's slow consumers,
// natsfan's closed connections and why, consumers whose connection ended).
// Every step is printed as it ends. With --runs K, the medians of the
// rate, CPU and RSS, the runs' lowest and highest rate, and the lowest
// failing rate of any run. Nothing in the search knows the targets it is
// read against (issue 12's, printed after the table).
//
// A search takes 20 to 40 s (8 to 10 steps); the whole section, 4 modes ×
// 4 N × 2 sizes, about 16 minutes per run.
//
// # Delivery
//
// Every mode gets the same publisher (one nats.go connection to the
// upstream publishing on one subject), the same message sizes and counts,
// and the same consumer code (consumer.go): it reads the publish time from
// the first 8 bytes of the payload and records the delay to receipt.
//
// Each cell (mode, N, size) runs two phases on the same consumers:
//
//  1. Latency (paced): messages published at a fixed offered rate for
//     --paced-duration (default 2 s). The rate is --rate (default 10,000
//     msgs/s), lowered where needed so that the deliveries offered, N ×
//     size × rate, stay within --paced-bandwidth (default 100 MB/s): the aim
//     is a load every mode can carry on a shared 2-core machine, so that the
//     latency measured is delivery, not queueing. Its p50, p99 and p99.9 are
//     the latency figures of the table; the rate used is printed with them.
//     It runs first, so that what the saturating phase does to the consumers
//     (a slow consumer cut off) cannot spoil it.
//  2. Throughput (burst): a fixed number of messages published as fast as
//     the publisher can, then Flush; deliveries are counted until every
//     consumer has every message or nothing arrives for 2 s. Delivered
//     messages/s is all deliveries divided by the time from the first
//     publish to the last delivery. Latency under a saturating publisher is
//     mostly queueing delay: its p99 is printed, but only as "burst p99".
//
// Messages lost (published times N minus deliveries) are counted in both
// phases and always printed, with the consumers whose connection ended (and,
// for the sidecar, why, from its log: "slow_consumer×10"). The sidecar runs
// with its defaults, consumer lag limits included (1,000,000 messages,
// 64 MiB): a burst that a socket consumer cannot keep up with gets it cut
// off, and what it then misses counts as lost. The message count of the
// throughput phase is --deliveries ÷ N (at least --min-messages), divided by
// 8 for 4 KiB messages, so that every cell does comparable work; the program
// prints the counts and rates it used.
//
// Also reported: the bytes the upstream server sent during the throughput
// phase (its Varz OutBytes, which counts payload bytes), per published
// message and in copies of the payload; the CPU seconds (utime+stime from
// /proc/PID/stat) per million deliveries of the leaf node or sidecar during
// the throughput phase, and its peak RSS (VmHWM) over the cell.
// natsfan-inproc shares this process with the upstream server, the
// publisher and the consumers, so its CPU and RSS cannot be isolated: they
// are reported as n/a. direct has no process between the upstream and its
// consumers: n/a as well.
//
// --runs K runs every cell of every section K times and reports medians,
// with the worst loss (or failures) of any run and what went wrong in it.
//
// --set NATSFAN_NAME=VALUE,… runs the sidecar with other settings, to see
// what they change; the report's header lists them. For example, with lag
// limits that let one consumer fall behind a whole burst:
//
//	go -C cmd/natsfan-bench run . --modes natsfan-socket --n 1 --set NATSFAN_CONSUMER_MAX_LAG_BYTES=1GiB,NATSFAN_CONSUMER_MAX_LAG_MESSAGES=4000000
//
// --profile DIR has the sidecar serve pprof and writes a CPU profile of each
// natsfan-socket cell's throughput phase (a --profile-duration window from
// its start, 5 s by default) to DIR, for `go tool pprof`:
//
//	go -C cmd/natsfan-bench run . --modes natsfan-socket --n 50 --sizes 128 --idle "" --own "" --profile /tmp/prof
//
// # Publish
//
// N publishers in the pod (--pub-n, default 1, 10 and 50), each a nats.go
// connection to the mode's endpoint (the upstream, the leaf node, natsfan's
// socket), publish --pub-messages messages in all (2,000,000 by default,
// ÷ N each) of --pub-size bytes (128, at least 19) on a subject natsfan
// does not buffer, all starting together and as fast as they can, then
// Flush. One receiver, a nats.go subscriber connected to the upstream
// directly, counts what arrives; the cell waits until everything has or nothing arrives for 2 s,
// then (unless the receiver was cut off) listens on until nothing arrives
// for 10 s, for stragglers: they count as received, and in the rate, and
// are reported as late.
// Each publisher first publishes probes until one of them reaches the
// receiver, so that interest is in place before the clock starts (a leaf
// node forwards only what the upstream has interest in).
//
// Reported: published, reached upstream (the upstream's count of messages
// in during the burst: where the rest were lost), received, lost (published
// − received; negative if something arrived twice), out of order (messages that arrived after a
// later one of the same publisher, from the publisher's index and sequence
// number in the payload), the rate at the receiver (received ÷ the time
// from the first publish to the last receipt: the figure to compare), the
// rate at the publishers (until their Flush returned: what a leaf node or
// natsfan took in, which may run ahead of what it passed on), the
// connections the upstream served for the publishers (N direct, one
// otherwise), the leaf node's or sidecar's CPU seconds per million messages
// received and peak RSS, and what went wrong: asynchronous errors the
// publishers got (a permissions violation), disconnects, slow consumers the
// upstream or the leaf node closed (the leaf node's from its /varz), a
// leaf node's reconnect to the upstream, and connections natsfan closed
// (from its log). One receiver is the limit of
// every mode: when N direct publishers outrun it, the upstream may close it
// as a slow consumer, and what it then misses counts as lost. A leaf node
// takes in what its publishers send faster than it forwards it, and may
// close its own connection to the upstream as a slow consumer, dropping
// what it held.
//
// # Request/reply
//
// One responder, a nats.go connection to the upstream, echoes each
// request's payload; one requester, a nats.go connection to the mode's
// endpoint, makes --requests round trips (10,000) of --req-size bytes
// (128) one after another with nc.Request, each with a 2 s timeout, after
// up to 100 unmeasured ones (the first may meet no responders while
// interest propagates, and is retried). --req-inbox says which of nats.go's
// two ways to receive replies: new (the default: one wildcard inbox
// subscription per connection) and old (nats.UseOldRequestStyle: an inbox
// subscription per request, which through a leaf node or natsfan changes
// interest upstream for every request). Reported: answered and failed, round
// trips per second, p50, p99 and p99.9 of the round trips answered, and the
// leaf node's or sidecar's CPU µs per round trip and peak RSS. Three failures
// in a row end a cell early.
//
// # Idle memory
//
// The sidecar as a child process with 1,000 and then 10,000
// idle socket consumers (each one connection with one subscription, run in
// this process) connected; its VmRSS and VmHWM at each step.
//
// # Own subjects
//
// The sidecar with 20, 200 and then 1,000 socket consumers (--own), each
// subscribed to a subject of its own under bench.>, and one publisher
// upstream sending 128-byte messages to them in turn at 5,000 msgs/s
// (--own-rate) for 5 s (--own-duration), a fresh upstream and sidecar for
// each step: the sidecar's CPU over the window, in cores and per message,
// which should not grow with the number of consumers.
//
// # Output and running it
//
// Results go to stdout as tables, and to --out (default results, in the
// working directory: cmd/natsfan-bench/results with the commands below) as
// bench.txt (the tables, the idle memory and the targets of issues 6 and
// 12, met or missed, with the machine's load average at the start and the
// end), zeroloss.csv, bench.csv, publish.csv, request.csv, idle.csv,
// own.csv and bench.png (a row per message size: the zero-loss rate, the burst rate and
// the paced p99 against N, one line per mode, a panel for each of the
// sections that ran). A section whose flags ask for nothing (--zl-n "",
// --n "", --pub-n "", --requests 0, --idle "", --own "") is skipped, with
// its files:
//
//	go -C cmd/natsfan-bench run . --zl-n "" --n "" --idle "" --own "" --runs 3   # the publish and request sections only
//	go -C cmd/natsfan-bench run . --n "" --pub-n "" --requests 0 --idle "" --own "" --runs 3 --out results/zeroloss   # the zero-loss section only
//
// The benchmark is a Go module of its own (cmd/natsfan-bench/go.mod), so
// that its dependencies, such as gonum.org/v1/plot, stay out of natsfan's
// go.mod; a replace directive points it at the natsfan of the checkout it
// sits in. From the checkout's root:
//
//	go -C cmd/natsfan-bench run .            # every section, tables and chart, about 20 minutes
//	go -C cmd/natsfan-bench run . --short    # the CI smoke test, about 30 s
//
// It builds natsfan with the go tool, in the directory of the natsfan
// module (go list -m github.com/natsfan/natsfan, run in the working
// directory), unless --natsfan-bin names a binary.
//
// --short is a smoke test for CI: N of 1 and 4, few messages at a low rate,
// a zero-loss search of two half-second steps from 2,000 deliveries/s
// (128 B only), 1 and 4 publishers of 2,000 messages, 100 round trips of
// each request style, 100 idle consumers, 4 consumers of their own
// subjects at 1,000 msgs/s for 250 ms, output to a temporary directory
// unless --out is set, and an exit status of 1 unless every mode runs and
// reports and natsfan's modes lose nothing, pass on every publish and
// answer every request, and every message of the own-subjects section
// arrives. What the peers (direct, leaf) lose is reported,
// not judged: a leaf node may drop messages on a busy machine. The
// zero-loss rates are reported, not judged: a half-second step on a busy
// CI machine says little. TestShortRun
// runs it, so the module's `go test ./...` covers it (CI runs that in
// cmd/natsfan-bench; the root module's `go test ./...` does not enter it).
package main
