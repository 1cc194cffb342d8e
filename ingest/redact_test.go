package ingest

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedactURLs_HidesUserInformation(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"nats://user:pass@host:4222"}, []string{"nats://redacted@host:4222"}},
		{[]string{"nats://sometoken@host"}, []string{"nats://redacted@host"}},
		{[]string{"tls://host:4443"}, []string{"tls://host:4443"}},
		{[]string{"host:4222"}, []string{"nats://host:4222"}},
		{[]string{"nats://a:b@h1, nats://h2", "h3"}, []string{"nats://redacted@h1", "nats://h2", "nats://h3"}},
		{[]string{"nats://user:pass@[::1"}, []string{"(malformed URL)"}},
		{nil, nil},
	} {
		got := redactURLs(tc.in)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSanitize_DropsTheURLFromAURLError(t *testing.T) {
	for _, malformed := range []string{"nats://user:pass@host:notaport", "nats://user:pass@[::1"} {
		_, err := url.Parse(malformed)
		if err == nil || !strings.Contains(err.Error(), "pass") {
			t.Fatalf("url.Parse(%q) error %v: the premise of sanitize changed", malformed, err)
		}
		if got := sanitize(err).Error(); strings.Contains(got, "pass") {
			t.Errorf("sanitize(%v) = %q", err, got)
		}
	}
	other := errors.New("nats: authorization violation")
	if sanitize(other) != other {
		t.Error("sanitize changed an error without a URL")
	}
}

func TestThrottle_LetsTheFirstThroughThenOnePerInterval(t *testing.T) {
	th := throttle{every: time.Minute}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {time.Second, false}, {59 * time.Second, false},
		{time.Minute, true}, {time.Minute + time.Second, false}, {5 * time.Minute, true},
	} {
		if got := th.allow(t0.Add(tc.at)); got != tc.want {
			t.Errorf("allow at +%s = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestMentionsSubscription_MatchesThePatternExactly(t *testing.T) {
	text := `nats: permissions violation: Permissions Violation for Subscription to "orders.>"`
	for pattern, want := range map[string]bool{"orders.>": true, "orders": false, "orders.>.x": false, "rders.>": false} {
		if got := mentionsSubscription(text, pattern); got != want {
			t.Errorf("mentionsSubscription(%q) = %v, want %v", pattern, got, want)
		}
	}
}
