package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes as written in configuration: a plain integer
// ("67108864") or an integer followed by a unit ("64MiB", "512 KiB"). The
// binary units KiB, MiB, GiB and TiB (also written Ki, Mi, Gi, Ti, as in
// Kubernetes resource quantities) are powers of 1024; the decimal units kB,
// MB, GB and TB (also K, M, G, T) are powers of 1000; B is one byte. Units
// are case-sensitive on purpose: "m" means milli in a Kubernetes quantity
// and "Mb" means megabits elsewhere, and guessing would be worse than
// refusing.
type ByteSize int64

// byteUnits maps every accepted unit to its multiplier.
var byteUnits = map[string]int64{
	"B": 1,
	"k": 1e3, "K": 1e3, "kB": 1e3, "KB": 1e3,
	"M": 1e6, "MB": 1e6,
	"G": 1e9, "GB": 1e9,
	"T": 1e12, "TB": 1e12,
	"Ki": 1 << 10, "KiB": 1 << 10,
	"Mi": 1 << 20, "MiB": 1 << 20,
	"Gi": 1 << 30, "GiB": 1 << 30,
	"Ti": 1 << 40, "TiB": 1 << 40,
}

// errByteSize is wrapped by every error parseByteSize returns.
var errByteSize = errors.New("natsfan: invalid byte size")

// parseByteSize parses s as described on [ByteSize]. Surrounding spaces and
// spaces between the number and the unit are allowed; signs, fractions and
// digit separators are not.
func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w %q: expected an integer, optionally followed by a unit such as KiB or MiB", errByteSize, s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: number out of range", errByteSize, s)
	}
	unit := strings.TrimLeft(s[i:], " ")
	if unit == "" {
		return ByteSize(n), nil
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%w %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)", errByteSize, s, unit)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w %q: out of range", errByteSize, s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler], which is how the env
// package parses a ByteSize field.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := parseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String writes b with the largest binary unit that divides it exactly
// ("64MiB"), or as a plain number of bytes ("1500"). parseByteSize reads it
// back unchanged.
func (b ByteSize) String() string {
	if b > 0 {
		for _, u := range []struct {
			name string
			size ByteSize
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if b%u.size == 0 {
				return strconv.FormatInt(int64(b/u.size), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
