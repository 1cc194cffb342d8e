package protocol

import (
	"testing"
)

// fuzzLimits maps a fuzzed byte to the parser's limits: small, so that
// random input reaches them, up to large enough for a real CONNECT (0xff).
func fuzzLimits(b uint8) (mcl, mpay int) {
	return 1 + int(b%16)*16, 1 + int(b/16)*8
}

// FuzzParser checks the Parser against the reference on the whole input
// with fuzzed limits, and checks that cutting the input anywhere changes nothing: one cut at a
// fuzzed offset, and every byte on its own. parseChunks checks the memory
// bound after every Parse call. The seed corpus is in
// testdata/fuzz/FuzzParser, with realistic client streams and nasty ones.
func FuzzParser(f *testing.F) {
	for _, tc := range parserCases {
		f.Add([]byte(tc.in), uint16(len(tc.in)/2), uint8(0xff))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16, limits uint8) {
		mcl, mpay := fuzzLimits(limits)
		want := refParse(in, mcl, mpay)
		check := func(how string, chunks [][]byte) {
			t.Helper()
			got, err := parseChunks(mcl, mpay, chunks)
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			if !got.equal(want) {
				t.Fatalf("%s:\n got %v\nwant %v (reference)", how, got, want)
			}
		}
		check("whole", [][]byte{in})
		if len(in) > 0 {
			check("cut", splitAt(in, int(cut)%(len(in)+1)))
		}
		check("byte by byte", bytewise(in))
	})
}
