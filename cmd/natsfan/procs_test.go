package main

import (
	"runtime"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// natsfan runs with at least two Ps unless GOMAXPROCS says otherwise:
// with one, ingest starves the consumers of a burst (procs.go).
func TestProcsFor_AtLeastTwoUnlessGOMAXPROCSIsSet(t *testing.T) {
	for _, tc := range []struct {
		current int
		setting string
		want    int
	}{
		{current: 1, want: 2},                 // one CPU
		{current: 2, want: 2},                 // nothing to raise
		{current: 8, want: 8},                 // never fewer than the runtime chose
		{current: 1, setting: "1", want: 1},   // the operator's choice stands
		{current: 1, setting: "0", want: 2},   // not a number of Ps: the runtime ignores it too
		{current: 1, setting: "two", want: 2}, // nor this
	} {
		if got := procsFor(tc.current, tc.setting); got != tc.want {
			t.Errorf("procsFor(%d, %q) = %d, want %d", tc.current, tc.setting, got, tc.want)
		}
	}
}

// Where the runtime chose one P, natsfan raises it to two and says so;
// where GOMAXPROCS set one, it keeps it and warns.
func TestEnsureProcs_RaisesOneToTwoAndSaysSo(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	core, logs := observer.New(zapcore.InfoLevel)

	runtime.GOMAXPROCS(1)
	ensureProcs([]string{"PATH=/bin"}, zap.New(core))
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS is %d, want 2", got)
	}
	if raised := logs.FilterMessageSnippet("GOMAXPROCS raised").All(); len(raised) != 1 || raised[0].ContextMap()["from"] != int64(1) {
		t.Errorf("want one line saying GOMAXPROCS was raised from 1, got %v", logs.All())
	}

	runtime.GOMAXPROCS(1)
	ensureProcs([]string{"GOMAXPROCS=1"}, zap.New(core))
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 set: GOMAXPROCS is %d, want 1", got)
	}
	if warned := logs.FilterLevelExact(zapcore.WarnLevel).All(); len(warned) != 1 {
		t.Errorf("GOMAXPROCS=1 set: want one warning, got %v", logs.All())
	}
}
