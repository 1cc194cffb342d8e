package subjects

// ValidateSubject reports whether s is a valid literal subject, the kind a
// message is published on: a valid pattern with no wildcard tokens.
// It returns nil or a [*SyntaxError] wrapping [ErrEmpty], [ErrEmptyToken],
// [ErrInvalidChar] or [ErrWildcard].
func ValidateSubject(s string) error {
	return validate(s, true)
}

// ValidatePattern reports whether p is a valid subscription pattern, where
// "*" and ">" tokens are allowed. It returns nil or a [*SyntaxError]
// wrapping [ErrEmpty], [ErrEmptyToken], [ErrInvalidChar] or
// [ErrFullWildcard].
func ValidatePattern(p string) error {
	return validate(p, false)
}

// validate scans s once, left to right, and reports the first problem it
// meets. Characters are checked as they are read; a token is checked when
// the dot or the end of the string that closes it is reached.
func validate(s string, literal bool) error {
	if s == "" {
		return &SyntaxError{Subject: s, Err: ErrEmpty}
	}
	start := 0 // offset of the current token
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if c := s[i]; c <= ' ' || c == 0x7f {
				return &SyntaxError{Subject: s, Offset: i, Err: ErrInvalidChar}
			}
			continue
		}
		// s[start:i] is a complete token.
		switch tok := s[start:i]; {
		case tok == "":
			return &SyntaxError{Subject: s, Offset: start, Err: ErrEmptyToken}
		case literal && (tok == "*" || tok == ">"):
			return &SyntaxError{Subject: s, Offset: start, Err: ErrWildcard}
		case tok == ">" && i < len(s):
			return &SyntaxError{Subject: s, Offset: start, Err: ErrFullWildcard}
		}
		start = i + 1
	}
	return nil
}

// IsLiteral reports whether the valid pattern p has no wildcard tokens, that
// is whether it matches exactly one subject: itself. Tokens that merely
// contain '*' or '>', such as "a*" or ">b", are literal.
func IsLiteral(p string) bool {
	for {
		tok, rest, more := nextToken(p)
		if tok == "*" || tok == ">" {
			return false
		}
		if !more {
			return true
		}
		p = rest
	}
}
