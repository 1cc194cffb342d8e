package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the hidden leaf node role when the short run re-executes
// the test binary as a leaf node.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == leafRole {
		if err := runLeafNode(os.Args[2:]); err != nil {
			os.Stderr.WriteString("leaf-node: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestShortRun(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	err := run([]string{"--short", "--out", out}, &stdout)
	t.Log(stdout.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bench.txt", "bench.csv", "idle.csv", "bench.png", "publish.csv", "request.csv", "zeroloss.csv", "own.csv"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	// Every mode ran and is reported: in the delivery section N 1 and 4,
	// two sizes; in the publish section N 1 and 4; in the request section
	// both inbox styles; in the zero-loss section N 1 and 4, 128 B.
	// natsfan-inproc has no clients to publish or request with.
	for _, tc := range []struct {
		file        string
		rows, inner int
	}{
		{"bench.csv", 4, 4},
		{"publish.csv", 2, 0},
		{"request.csv", 2, 0},
		{"zeroloss.csv", 2, 2},
	} {
		cells := csvModes(t, filepath.Join(out, tc.file))
		for _, m := range modes {
			want := tc.rows
			if m.connect == nil {
				want = tc.inner
			}
			if cells[m.name] != want {
				t.Errorf("%s has %d rows of %s, want %d", tc.file, cells[m.name], m.name, want)
			}
		}
	}
	goleak.VerifyNone(t)
}

// csvModes counts the rows of each mode (the first column) in a CSV file.
func csvModes(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cells := map[string]int{}
	for _, row := range rows[1:] {
		cells[row[0]]++
	}
	return cells
}

// The smoke test checks natsfan: a peer's loss, such as a leaf node's on a
// busy machine, is reported but fails nothing; natsfan's loss, a mode that
// did not report, or one of natsfan's that delivered nothing fails it. The
// same holds for the publish and request sections.
func TestCheckShort_JudgesNatsfanNotItsPeers(t *testing.T) {
	c, err := parseFlags([]string{"--short"})
	if err != nil {
		t.Fatal(err)
	}
	// all, allPub and allReq return a result per cell of the short run,
	// every one perfect, then let change spoil them.
	all := func(change func(r *result)) []result {
		var rs []result
		for _, m := range c.modes {
			for _, size := range c.sizes {
				for _, n := range c.ns {
					r := result{Mode: m.name, N: n, Size: size, Messages: 500, Delivered: 500 * int64(n), PacedMessages: 500}
					change(&r)
					rs = append(rs, r)
				}
			}
		}
		return rs
	}
	allPub := func(change func(r *pubResult)) []pubResult {
		var rs []pubResult
		for _, m := range c.clientModes() {
			for _, n := range c.pubNs {
				each := int64(c.pubMessages / n)
				r := pubResult{Mode: m.name, N: n, Published: each * int64(n), Received: each * int64(n)}
				change(&r)
				rs = append(rs, r)
			}
		}
		return rs
	}
	allReq := func(change func(r *reqResult)) []reqResult {
		var rs []reqResult
		for _, m := range c.clientModes() {
			for _, st := range c.reqStyles {
				r := reqResult{Mode: m.name, Style: st, Requests: c.requests, Answered: c.requests}
				change(&r)
				rs = append(rs, r)
			}
		}
		return rs
	}
	perfect, perfectPub, perfectReq := all(func(*result) {}), allPub(func(*pubResult) {}), allReq(func(*reqResult) {})
	for _, tc := range []struct {
		name    string
		results []result
		pubs    []pubResult
		reqs    []reqResult
		fail    bool
	}{
		{"nothing lost", perfect, perfectPub, perfectReq, false},
		{"the leaf node lost 187 of 250 in the paced phase", all(func(r *result) {
			if r.Mode == "leaf" && r.N == 1 {
				r.PacedLost = 187
			}
		}), perfectPub, perfectReq, false},
		{"direct subscribers were cut off", all(func(r *result) {
			if r.Mode == "direct" {
				r.CutOff = 1
			}
		}), perfectPub, perfectReq, false},
		{"natsfan-socket lost one", all(func(r *result) {
			if r.Mode == "natsfan-socket" && r.N == 4 {
				r.Lost = 1
			}
		}), perfectPub, perfectReq, true},
		{"natsfan-inproc lost one in the paced phase", all(func(r *result) {
			if r.Mode == "natsfan-inproc" {
				r.PacedLost = 1
			}
		}), perfectPub, perfectReq, true},
		{"natsfan-socket cut off a consumer", all(func(r *result) {
			if r.Mode == "natsfan-socket" {
				r.CutOff = 1
			}
		}), perfectPub, perfectReq, true},
		{"natsfan-inproc delivered nothing", all(func(r *result) {
			if r.Mode == "natsfan-inproc" {
				r.Delivered = 0
			}
		}), perfectPub, perfectReq, true},
		{"the leaf node did not report", slices.DeleteFunc(all(func(*result) {}), func(r result) bool { return r.Mode == "leaf" }), perfectPub, perfectReq, true},
		{"the leaf node lost published messages", perfect, allPub(func(r *pubResult) {
			if r.Mode == "leaf" {
				r.Received, r.Lost = r.Received-7, 7
			}
		}), perfectReq, false},
		{"natsfan-socket lost a published message", perfect, allPub(func(r *pubResult) {
			if r.Mode == "natsfan-socket" && r.N == 4 {
				r.Received, r.Lost = r.Received-1, 1
			}
		}), perfectReq, true},
		{"natsfan-socket passed a published message on twice", perfect, allPub(func(r *pubResult) {
			if r.Mode == "natsfan-socket" && r.N == 1 {
				r.Received, r.Lost = r.Received+1, -1
			}
		}), perfectReq, true},
		{"natsfan-socket reordered a publisher's messages", perfect, allPub(func(r *pubResult) {
			if r.Mode == "natsfan-socket" && r.N == 4 {
				r.Reordered = 1
			}
		}), perfectReq, true},
		{"natsfan-socket's publishers were refused", perfect, allPub(func(r *pubResult) {
			if r.Mode == "natsfan-socket" {
				r.Published, r.Received = 0, 0
			}
		}), perfectReq, true},
		{"the publish section did not report direct", perfect, slices.DeleteFunc(allPub(func(*pubResult) {}), func(r pubResult) bool { return r.Mode == "direct" }), perfectReq, true},
		{"a request through the leaf node timed out", perfect, perfectPub, allReq(func(r *reqResult) {
			if r.Mode == "leaf" {
				r.Answered, r.Failed = r.Answered-1, 1
			}
		}), false},
		{"a request through natsfan timed out", perfect, perfectPub, allReq(func(r *reqResult) {
			if r.Mode == "natsfan-socket" && r.Style == styleOld {
				r.Answered, r.Failed = r.Answered-1, 1
			}
		}), true},
		{"natsfan-socket gave up on requests", perfect, perfectPub, allReq(func(r *reqResult) {
			if r.Mode == "natsfan-socket" {
				r.Answered, r.Failed = 0, reqGiveUp
			}
		}), true},
		{"the request section did not report natsfan-socket", perfect, perfectPub, slices.DeleteFunc(allReq(func(*reqResult) {}), func(r reqResult) bool { return r.Mode == "natsfan-socket" }), true},
	} {
		if err := checkShort(c, tc.results, tc.pubs, tc.reqs); (err != nil) != tc.fail {
			t.Errorf("%s: checkShort = %v, want failure %v", tc.name, err, tc.fail)
		}
	}
}
