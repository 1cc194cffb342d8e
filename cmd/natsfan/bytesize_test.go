package main

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"1", 1},
		{"67108864", 64 << 20},
		{" 42 ", 42},
		{"1B", 1},
		{"512KiB", 512 << 10},
		{"512Ki", 512 << 10},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"64Mi", 64 << 20},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
		{"1kB", 1000},
		{"1KB", 1000},
		{"1K", 1000},
		{"5MB", 5e6},
		{"5M", 5e6},
		{"3GB", 3e9},
		{"1TB", 1e12},
		{"8388607TiB", 8388607 << 40},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := parseByteSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseByteSize_rejects(t *testing.T) {
	for _, in := range []string{
		"", " ", "MiB", "-1", "+1", "1.5MiB", "1_000", "64mib", "64m", "64Mb", "64 MiB x",
		"64MiBB", "0x10", "8388608TiB", "9223372036854775808", "1e6",
	} {
		if got, err := parseByteSize(in); !errors.Is(err, errByteSize) {
			t.Errorf("parseByteSize(%q) = %d, %v; want an error wrapping errByteSize", in, got, err)
		}
	}
}

func TestByteSize_String(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1000, "1000"},
		{1024, "1KiB"},
		{1536, "1536"},
		{32 << 20, "32MiB"},
		{3 << 30, "3GiB"},
		{5 << 40, "5TiB"},
		{-1, "-1"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

// FuzzParseByteSize checks the parser against its own printer and against
// strconv: whatever it accepts is non-negative, plain numbers mean what
// strconv says, and String reads back to the same value.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"0", "64MiB", "512 KiB", "1GB", "9223372036854775807", "8388608TiB", "-1", "1.5M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("parseByteSize(%q) = %d, negative", s, b)
		}
		if n, err := strconv.ParseUint(s, 10, 63); err == nil && ByteSize(n) != b {
			t.Fatalf("parseByteSize(%q) = %d, strconv says %d", s, b, n)
		}
		again, err := parseByteSize(b.String())
		if err != nil || again != b {
			t.Fatalf("parseByteSize(%q) = %d, but its String %q parses to %d, %v", s, b, b.String(), again, err)
		}
	})
}
