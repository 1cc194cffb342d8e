package subjects

import "strings"

// The functions in this file walk their arguments token by token, in step,
// with nextToken. They never split into slices, so they do not allocate.
// Because the arguments are assumed valid, a wildcard is recognised simply
// by comparing a whole token with "*" or ">", and a ">" token is known to
// be the last one.

// nextToken splits s at its first dot. It returns the first token, the rest
// after the dot, and whether there was a dot at all.
func nextToken(s string) (tok, rest string, more bool) {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// Match reports whether the literal subject is matched by pattern.
// Both are assumed valid (see [ValidatePattern] and [ValidateSubject]).
// This is the rule nats-server's subscription list applies when it routes a
// message. Match does not allocate.
func Match(pattern, subject string) bool {
	for {
		pt, prest, pmore := nextToken(pattern)
		st, srest, smore := nextToken(subject)
		if pt == ">" {
			return true // st is at least one more token, all of which '>' takes
		}
		if pt != "*" && pt != st {
			return false
		}
		if !pmore || !smore {
			return pmore == smore // both must run out of tokens together
		}
		pattern, subject = prest, srest
	}
}

// Overlap reports whether some literal subject is matched by both patterns,
// that is whether a message could be delivered to subscriptions on both.
// Overlap is symmetric. Both patterns are assumed valid. Overlap does not
// allocate. It is nats-server's SubjectsCollide without that function's
// treatment of tokens such as "*x" as wildcards (see the package tests).
func Overlap(a, b string) bool {
	for {
		at, arest, amore := nextToken(a)
		bt, brest, bmore := nextToken(b)
		if at == ">" || bt == ">" {
			return true // the other side has a token here, and '>' takes any tail
		}
		if at != bt && at != "*" && bt != "*" {
			return false
		}
		if !amore || !bmore {
			return amore == bmore
		}
		a, b = arest, brest
	}
}

// Covers reports whether every subject matched by pattern b is also matched
// by pattern a, so that a subscription on a makes one on b redundant. Every
// pattern covers itself, and ">" covers every pattern. Both patterns are
// assumed valid. Covers does not allocate. It is nats-server's
// SubjectMatchesFilter(b, a) without that function's treatment of tokens
// such as "*x" as wildcards (see the package tests).
func Covers(a, b string) bool {
	for {
		at, arest, amore := nextToken(a)
		bt, brest, bmore := nextToken(b)
		switch {
		case at == ">":
			return true // b has at least this token left, and '>' takes it all
		case bt == ">":
			return false // b takes any number of tokens here, a a fixed number
		case at != "*" && at != bt:
			return false // a literal token in a covers only the same literal
		}
		if !amore || !bmore {
			return amore == bmore
		}
		a, b = arest, brest
	}
}
