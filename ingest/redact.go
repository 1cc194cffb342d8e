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
// nats://token@host. Nothing the Ingester logs or returns contains the user
// information of a URL.

// redacted replaces the user information of a URL.
const redacted = "redacted"

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

// redactURL returns raw with any user information replaced, or a
// placeholder if raw does not parse (it cannot be redacted then).
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(malformed URL)"
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	return u.String()
}

// redactURLs returns the URLs in urls, one per entry, redacted.
func redactURLs(urls []string) []string {
	out := splitURLs(urls)
	for i, u := range out {
		out[i] = redactURL(u)
	}
	return out
}

// checkURLs returns urls joined as nats.Connect takes them, or an error
// naming the first malformed URL by position, never by content.
func checkURLs(urls []string) (string, error) {
	all := splitURLs(urls)
	if len(all) == 0 {
		return "", errors.New("ingest: no upstream URL")
	}
	for i, u := range all {
		if _, err := url.Parse(u); err != nil {
			return "", fmt.Errorf("ingest: upstream URL %d of %d is malformed: %w", i+1, len(all), sanitize(err))
		}
	}
	return strings.Join(all, ","), nil
}

// sanitize strips the URL from a *url.Error, whose message quotes the URL
// whole, credentials included.
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s URL: %w", ue.Op, ue.Err)
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
