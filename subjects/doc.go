// Package subjects implements NATS subject syntax exactly as nats-server
// applies it: which strings are valid subjects and subscription patterns,
// and how patterns match, overlap and contain one another.
//
// # Subjects, tokens and wildcards
//
// A subject is a non-empty string of tokens separated by dots:
// "orders.eu.created" has the three tokens "orders", "eu" and "created".
// Messages are published on literal subjects. Subscriptions use patterns,
// which may contain two wildcards:
//
//   - "*" matches exactly one token: "orders.*.created" matches
//     "orders.eu.created" but not "orders.created" or "orders.eu.x.created".
//   - ">" matches one or more tokens and may only be the last token:
//     "orders.>" matches "orders.eu" and "orders.eu.created" but not "orders".
//
// A wildcard is a wildcard only when it is a whole token. "orders*", "*x" and
// "a>b" are ordinary literal tokens that match only themselves, and "**" is
// a literal token too. This is what nats-server does, and it is the most
// common surprise when reading subjects.
//
// # Validity
//
// [ValidatePattern] accepts a subscription pattern and [ValidateSubject] a
// literal subject (a pattern without wildcard tokens). Both reject:
//
//   - the empty string ([ErrEmpty]);
//   - empty tokens, i.e. a leading, trailing or doubled dot such as ".a",
//     "a." or "a..b" ([ErrEmptyToken]);
//   - a ">" token that is not the last token, such as "a.>.b"
//     ([ErrFullWildcard]);
//   - any ASCII whitespace or control byte anywhere: bytes 0x00-0x20 and 0x7f
//     ([ErrInvalidChar]).
//
// [ValidateSubject] also rejects any "*" or ">" token ([ErrWildcard]).
//
// nats-server rejects only the whitespace bytes space, \t, \n, \f and \r.
// This package is deliberately stricter: it also rejects the other control
// bytes (NUL, \v, ESC, DEL, ...), which nats-server would accept on a
// subscription but which no sane subject contains and which make logs and
// error messages unreadable. Every other byte is an ordinary token byte, as
// in nats-server: non-ASCII text, Unicode whitespace such as U+00A0, and
// even invalid UTF-8 are accepted. Like nats-server, there is no length limit
// on subjects or tokens.
//
// Validation errors are [*SyntaxError] values that name the byte offset of
// the offending token or character, and wrap one of the sentinel errors
// above so that callers can branch with [errors.Is]:
//
//	subjects: empty token at offset 4 in "foo..bar"
//	subjects: invalid character '\t' at offset 3 in "foo\tbar"
//
// # Matching
//
// [Match] reports whether a pattern matches a literal subject. [Overlap]
// reports whether two patterns match at least one common subject, which is
// what decides whether two subscriptions can both receive a message.
// [Covers] reports whether one pattern matches everything another matches,
// which decides whether a subscription makes another redundant. For literal
// arguments all three reduce to string equality.
//
// The matching functions assume valid arguments (validate once, at the
// edge, then match many times). On invalid arguments they return an
// unspecified result but never panic.
//
// All functions are pure and safe for concurrent use. Match, Overlap,
// Covers and IsLiteral never allocate, and neither do the validators when
// the input is valid.
package subjects
