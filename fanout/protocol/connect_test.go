package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConnect(t *testing.T) {
	for _, tc := range []struct {
		name string
		arg  string
		want ConnectInfo
	}{
		{"nats.go v1.55", strings.TrimSuffix(natsGoConnect[len("CONNECT "):], "\r\n"),
			ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 1, Echo: true, Headers: true, NoResponders: true}, Lang: "go", Version: "1.55.0"}},
		{"absent fields keep nats-server's defaults", `{}`,
			ConnectInfo{ConnectOptions: ConnectOptions{Verbose: true, Pedantic: true, Echo: true}}},
		{"unknown fields are ignored", `{"verbose":false,"pedantic":false,"echo":false,"future":{"x":[1,2]},"sig":"s","jwt":"j"}`,
			ConnectInfo{Sig: "s", JWT: "j"}},
		{"credentials", `{"user":"u","pass":"p","auth_token":"t","nkey":"n","name":"app","tls_required":true}`,
			ConnectInfo{ConnectOptions: ConnectOptions{Verbose: true, Pedantic: true, Echo: true, TLSRequired: true},
				User: "u", Pass: "p", AuthToken: "t", Nkey: "n", Name: "app"}},
		{"surrounding blanks", " \t{\"name\":\"x\"}  \r",
			ConnectInfo{ConnectOptions: ConnectOptions{Verbose: true, Pedantic: true, Echo: true}, Name: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConnect([]byte(tc.arg))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A later CONNECT is decoded over the earlier one's options, as nats-server
// decodes it over the connection's: an option it leaves out stands. The
// strings are not kept.
func TestConnectOptions_ParseKeepsTheOptionsALaterCONNECTLeavesOut(t *testing.T) {
	first, err := ParseConnect([]byte(`{"verbose":false,"headers":true,"protocol":1,"name":"app","pass":"p","account":"A"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := first.ConnectOptions.Parse([]byte(`{"echo":false,"lang":"go"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := ConnectInfo{ConnectOptions: ConnectOptions{Pedantic: true, Headers: true, Protocol: 1}, Lang: "go"}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseConnect_RefusesWhatNATSServerRefuses(t *testing.T) {
	for _, arg := range []string{``, `{`, `[]`, `{"verbose":"yes"}`, `{"protocol":"1"}`, `{} x`} {
		_, err := ParseConnect([]byte(arg))
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Err != ErrBadConnect || pe.Text != "" {
			t.Errorf("ParseConnect(%q) = %v, want a *ProtocolError for ErrBadConnect with no -ERR text", arg, err)
		}
	}
}

func TestConnectInfo_Validate(t *testing.T) {
	for _, tc := range []struct {
		ci   ConnectInfo
		text string // "" for valid
	}{
		{ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 0}}, ""},
		{ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 1, Headers: true, NoResponders: true}}, ""},
		{ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 2}}, TextBadClientProtocol},
		{ConnectInfo{ConnectOptions: ConnectOptions{Protocol: -1}}, TextBadClientProtocol},
		{ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 1, NoResponders: true}}, TextNoRespondersRequiresHeaders},
	} {
		err := tc.ci.Validate()
		if tc.text == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.ci, err)
			}
			continue
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Err != ErrBadConnect || pe.Text != tc.text {
			t.Errorf("%+v: got %v, want -ERR text %q", tc.ci, err, tc.text)
		}
	}
}

func TestConnectInfo_StringLeavesOutCredentials(t *testing.T) {
	ci := ConnectInfo{ConnectOptions: ConnectOptions{Protocol: 1}, Name: "app", Lang: "go", Version: "1.55.0",
		User: "SECRET1", Pass: "SECRET2", AuthToken: "SECRET3", JWT: "SECRET4", Sig: "SECRET5", Nkey: "SECRET6"}
	s := ci.String()
	if strings.Contains(s, "SECRET") {
		t.Fatalf("String() = %s", s)
	}
	const want = `name="app" lang="go" version="1.55.0" protocol=1 verbose=false pedantic=false echo=false headers=false no_responders=false`
	if s != want {
		t.Fatalf("String() = %s\nwant       %s", s, want)
	}
}
