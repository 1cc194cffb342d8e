package subjects

import (
	"errors"
	"strings"
	"testing"
)

// This file holds deliberately simple reference implementations that the
// table, property and fuzz tests compare the real ones against. They split
// into slices and brute-force where the real code is clever; clarity is all
// that matters here.

// refMatch is Match written the obvious way.
func refMatch(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, tok := range pt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) {
			return false
		}
		if tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}

// candidates returns enough literal subjects to decide Overlap and Covers
// for patterns a and b by brute force.
//
// Matching at token position i only compares the subject's token with the
// tokens at position i of a and b, so any other token behaves like a fresh
// token that appears nowhere. And a subject longer than max(len(a), len(b))+1
// tokens can be shortened to that length without changing whether a or b
// matches it, since only a trailing ">" can reach that far. So the
// candidates are all subjects of up to max+1 tokens whose i-th token is a
// literal i-th token of a or b, or the fresh token.
func candidates(a, b string) []string {
	at, bt := strings.Split(a, "."), strings.Split(b, ".")
	fresh := strings.Repeat("f", len(a)+len(b)+1) // longer than any token, so unequal to all
	choices := func(i int) []string {
		c := []string{fresh}
		for _, toks := range [][]string{at, bt} {
			if i < len(toks) && toks[i] != "*" && toks[i] != ">" {
				c = append(c, toks[i])
			}
		}
		return c
	}
	var out []string
	var walk func(prefix string, i, n int)
	walk = func(prefix string, i, n int) {
		if i == n {
			out = append(out, prefix)
			return
		}
		for _, tok := range choices(i) {
			if i > 0 {
				tok = prefix + "." + tok
			}
			walk(tok, i+1, n)
		}
	}
	for n := 1; n <= max(len(at), len(bt))+1; n++ {
		walk("", 0, n)
	}
	return out
}

// refOverlap is Overlap by brute force over candidates.
func refOverlap(a, b string) bool {
	for _, s := range candidates(a, b) {
		if refMatch(a, s) && refMatch(b, s) {
			return true
		}
	}
	return false
}

// refCovers is Covers by brute force over candidates: a covers b unless some
// candidate is matched by b and not by a.
func refCovers(a, b string) bool {
	for _, s := range candidates(a, b) {
		if refMatch(b, s) && !refMatch(a, s) {
			return false
		}
	}
	return true
}

// refProblems returns every sentinel error that applies to s, found the
// obvious way; validate must return one of them, or nil if there are none.
func refProblems(s string, literal bool) []error {
	if s == "" {
		return []error{ErrEmpty}
	}
	var probs []error
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		probs = append(probs, ErrInvalidChar)
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			probs = append(probs, ErrEmptyToken)
		case literal && (tok == "*" || tok == ">"):
			probs = append(probs, ErrWildcard)
		case !literal && tok == ">" && i < len(toks)-1:
			probs = append(probs, ErrFullWildcard)
		}
	}
	return probs
}

// checkValidation fails t unless err is what ValidateSubject (literal) or
// ValidatePattern would correctly return for s: nil exactly when refProblems
// finds nothing, and otherwise a *SyntaxError whose sentinel is one of the
// problems and whose offset points at it.
func checkValidation(t *testing.T, s string, literal bool, err error) {
	t.Helper()
	probs := refProblems(s, literal)
	if err == nil {
		if len(probs) > 0 {
			t.Fatalf("validate(%q, literal=%v) = nil, want one of %v", s, literal, probs)
		}
		return
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("validate(%q, literal=%v) = %T %v, want *SyntaxError", s, literal, err, err)
	}
	found := false
	for _, p := range probs {
		found = found || errors.Is(err, p)
	}
	if !found {
		t.Fatalf("validate(%q, literal=%v) = %v, want one of %v", s, literal, err, probs)
	}
	if se.Subject != s {
		t.Fatalf("validate(%q): SyntaxError.Subject = %q", s, se.Subject)
	}
	off := se.Offset
	if off < 0 || off > len(s) {
		t.Fatalf("validate(%q): offset %d out of range", s, off)
	}
	tokenStart := off == 0 || s[off-1] == '.'
	tok := s[off:]
	if i := strings.IndexByte(tok, '.'); i >= 0 {
		tok = tok[:i]
	}
	var ok bool
	switch se.Err {
	case ErrEmpty:
		ok = s == "" && off == 0
	case ErrInvalidChar:
		ok = off < len(s) && (s[off] <= ' ' || s[off] == 0x7f)
	case ErrEmptyToken:
		ok = tokenStart && tok == ""
	case ErrWildcard:
		ok = tokenStart && (tok == "*" || tok == ">")
	case ErrFullWildcard:
		ok = tokenStart && tok == ">" && off+1 < len(s)
	}
	if !ok {
		t.Fatalf("validate(%q) = %v: offset %d does not point at the problem", s, err, off)
	}
}
