package main

import (
	"bytes"
	"os"
	"path/filepath"
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
	goleak.VerifyNone(t)
}
