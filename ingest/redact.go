package ingest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A NATS URL may carry secrets: nats://user:password@host or
// nats://token@host, with or without the scheme (nats.go reads host:port as
// nats://host:port, and token@host:port as nats://token@host:port). Nothing
// the Ingester logs or returns contains the user information of a URL; nor
// do the errors of ParseURL, unlike url.Parse's, which quote the whole input.

// redacted replaces the user information of a URL.
const redacted = "redacted"

// ErrURLUserinfo is returned by ParseURL for a URL whose user information a
// URL parser would misread. The text does not quote it, for it is secret.
var ErrURLUserinfo = errors.New("ingest: the token, user or password in the URL is not valid URL syntax; percent-encode the characters / ? # % @ and spaces in it (@ is %40)")

// errAtOutsideUserinfo is returned by ParseURL for a URL that parses, but
// with an '@' outside its user information: nats.go would dial what looks
// like the secret as the host, and the secret would appear where URLs are
// shown.
var errAtOutsideUserinfo = errors.New("ingest: the URL has an @ outside its user information; if it is part of a token or password, percent-encode it, and / ? # in it too")

// splitURLs returns the URLs in urls, each of which may be a comma-separated
// list, one per entry, with nats:// added where the scheme is missing, as
// nats.go does.
func splitURLs(urls []string) []string {
	var out []string
	for _, u := range urls {
		for s := range strings.SplitSeq(u, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if !strings.Contains(s, "://") {
				s = "nats://" + s
			}
			out = append(out, s)
		}
	}
	return out
}

// RedactURL returns the upstream server URL s, in the form it was given
// (with or without a scheme), with its user information replaced by
// "redacted": "nats://redacted@host:4222", "redacted@host:4222". Everything
// between the scheme's "://" (or the start) and the last '@' counts as user
// information, even where a URL parser would read part of it as a host or a
// path, so that a malformed URL loses its secret too. A string without '@'
// comes back unchanged.
func RedactURL(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at && validScheme(s[:i]) {
		start = i + len("://")
	}
	return s[:start] + redacted + s[at:]
}

// validScheme reports whether s is a URL scheme (RFC 3986, section 3.1).
func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// ParseURL parses one upstream server URL as nats.go reads it: a string
// without "://" is taken as nats://s. It returns an error for what nats.go
// would refuse, and also for an '@' that a URL parser does not take as the
// end of the user information. The error never contains the user
// information; it may contain the rest of the URL.
func ParseURL(s string) (*url.URL, error) {
	full := s
	if !strings.Contains(s, "://") {
		full = "nats://" + s
	}
	u, err := url.Parse(full)
	// What is wrong, said from the URL without its user information: if
	// that parses as well, the user information is what is wrong.
	r, rerr := url.Parse(RedactURL(full))
	switch {
	case err != nil && rerr != nil:
		return nil, fmt.Errorf("ingest: %w", urlErrorReason(rerr))
	case err != nil:
		return nil, ErrURLUserinfo
	case strings.Contains(full, "@") && (u.User == nil || rerr != nil || u.Host != r.Host):
		return nil, errAtOutsideUserinfo
	}
	return u, nil
}

// urlErrorReason returns the reason of a *url.Error, without the URL it
// quotes.
func urlErrorReason(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL is RedactURL, by the name the event handlers use.
func redactURL(s string) string { return RedactURL(s) }

// redactURLs returns the URLs in urls, one per entry, with nats:// added
// where the scheme is missing, redacted.
func redactURLs(urls []string) []string {
	out := splitURLs(urls)
	for i, u := range out {
		out[i] = RedactURL(u)
	}
	return out
}

// checkURLs returns urls joined as nats.Connect takes them, or an error
// naming the first malformed URL, redacted.
func checkURLs(urls []string) (string, error) {
	all := splitURLs(urls)
	if len(all) == 0 {
		return "", errors.New("ingest: no upstream URL")
	}
	for i, u := range all {
		if _, err := ParseURL(u); err != nil {
			return "", fmt.Errorf("ingest: upstream URL %d of %d, %q, is malformed: %w", i+1, len(all), RedactURL(u), err)
		}
	}
	return strings.Join(all, ","), nil
}

// sanitize strips the URL from a *url.Error, whose message quotes the URL
// whole, credentials included. The reason goes too, since it may quote a
// piece of the URL (`invalid port ":secret" after host`).
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s URL: malformed URL (not shown: it may hold credentials)", ue.Op)
	}
	return err
}

// throttle lets an event through at most once per interval: the first at
// once, then the first after each interval has passed. Loggers use it to log
// a condition that may repeat quickly (with running counts in the line)
// rather than every occurrence.
type throttle struct {
	every time.Duration

	mu   sync.Mutex
	next time.Time
}

func (t *throttle) allow(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		return false
	}
	t.next = now.Add(t.every)
	return true
}
