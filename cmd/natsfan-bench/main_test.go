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
	for _, name := range []string{"bench.txt", "bench.csv", "idle.csv", "bench.png"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	// Every mode ran and is reported: N 1 and 4, two sizes.
	f, err := os.Open(filepath.Join(out, "bench.csv"))
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
	for _, m := range modes {
		if cells[m.name] != 4 {
			t.Errorf("bench.csv has %d rows of %s, want 4", cells[m.name], m.name)
		}
	}
	goleak.VerifyNone(t)
}

// The smoke test checks natsfan: a peer's loss, such as a leaf node's on a
// busy machine, is reported but fails nothing; natsfan's loss, a mode that
// did not report, or one of natsfan's that delivered nothing fails it.
func TestCheckShort_JudgesNatsfanNotItsPeers(t *testing.T) {
	c, err := parseFlags([]string{"--short"})
	if err != nil {
		t.Fatal(err)
	}
	// all returns a result per cell of the short run, every one perfect,
	// then lets change spoil them.
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
	for _, tc := range []struct {
		name    string
		results []result
		fail    bool
	}{
		{"nothing lost", all(func(*result) {}), false},
		{"the leaf node lost 187 of 250 in the paced phase", all(func(r *result) {
			if r.Mode == "leaf" && r.N == 1 {
				r.PacedLost = 187
			}
		}), false},
		{"direct subscribers were cut off", all(func(r *result) {
			if r.Mode == "direct" {
				r.CutOff = 1
			}
		}), false},
		{"natsfan-socket lost one", all(func(r *result) {
			if r.Mode == "natsfan-socket" && r.N == 4 {
				r.Lost = 1
			}
		}), true},
		{"natsfan-inproc lost one in the paced phase", all(func(r *result) {
			if r.Mode == "natsfan-inproc" {
				r.PacedLost = 1
			}
		}), true},
		{"natsfan-socket cut off a consumer", all(func(r *result) {
			if r.Mode == "natsfan-socket" {
				r.CutOff = 1
			}
		}), true},
		{"natsfan-inproc delivered nothing", all(func(r *result) {
			if r.Mode == "natsfan-inproc" {
				r.Delivered = 0
			}
		}), true},
		{"the leaf node did not report", slices.DeleteFunc(all(func(*result) {}), func(r result) bool { return r.Mode == "leaf" }), true},
	} {
		if err := checkShort(c, tc.results); (err != nil) != tc.fail {
			t.Errorf("%s: checkShort = %v, want failure %v", tc.name, err, tc.fail)
		}
	}
}
