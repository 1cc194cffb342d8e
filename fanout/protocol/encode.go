package protocol

import (
	"encoding/json"
	"strconv"
)

// ServerInfo is the INFO a server sends on accept: a subset of nats-server's
// Info (server/server.go) with the same JSON names in the same order, so that
// the same values give the same bytes. nats.go decodes it into its own
// ServerInfo and ignores fields it does not know.
type ServerInfo struct {
	ID        string `json:"server_id"`
	Name      string `json:"server_name"`
	Version   string `json:"version"`
	Proto     int    `json:"proto"` // 1: the server may send INFO again later
	GitCommit string `json:"git_commit,omitempty"`
	GoVersion string `json:"go"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
	// Headers says the server handles HPUB and sends HMSG. nats.go sends
	// headers (and no_responders) in its CONNECT only if this is true.
	Headers      bool `json:"headers"`
	AuthRequired bool `json:"auth_required,omitempty"`
	TLSRequired  bool `json:"tls_required,omitempty"`
	TLSVerify    bool `json:"tls_verify,omitempty"`
	TLSAvailable bool `json:"tls_available,omitempty"`
	// MaxPayload is the largest payload the server accepts; nats.go
	// refuses to publish more (nats: maximum payload exceeded).
	MaxPayload int32  `json:"max_payload"`
	JetStream  bool   `json:"jetstream,omitempty"`
	IP         string `json:"ip,omitempty"`
	// ClientID is the id the server gave this connection.
	ClientID    uint64   `json:"client_id,omitempty"`
	ClientIP    string   `json:"client_ip,omitempty"`
	Nonce       string   `json:"nonce,omitempty"`
	Cluster     string   `json:"cluster,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	ConnectURLs []string `json:"connect_urls,omitempty"`
	// LameDuckMode tells clients the server is shutting down and they
	// should reconnect elsewhere.
	LameDuckMode bool `json:"ldm,omitempty"`
	// ConnectInfo marks the INFO nats-server sends a protocol 1 client
	// after the PONG to its first PING since CONNECT, which names the
	// account the client is bound to: RemoteAccount, and IsSystemAccount
	// if it is the system account.
	ConnectInfo     bool   `json:"connect_info,omitempty"`
	RemoteAccount   string `json:"remote_account,omitempty"`
	IsSystemAccount bool   `json:"acc_is_sys,omitempty"`
	// JSAPILevel is the level of the server's JetStream API, which
	// nats-server 2.12 and later advertise.
	JSAPILevel int `json:"api_lvl,omitempty"`
}

// AppendInfo appends "INFO <json> \r\n" to dst. The space before CRLF is
// nats-server's (server/util.go, generateInfoJSON); clients trim it. INFO is
// sent once per connection, and unlike the other Append functions this one
// allocates.
func AppendInfo(dst []byte, info *ServerInfo) []byte {
	b, err := json.Marshal(info)
	if err != nil {
		// Strings, numbers and booleans always encode.
		panic("protocol: cannot encode INFO: " + err.Error())
	}
	dst = append(dst, "INFO "...)
	dst = append(dst, b...)
	return append(dst, " \r\n"...)
}

// AppendMsg appends a message for subscription sid to dst:
//
//	MSG <subject> <sid> [reply] <#bytes>\r\n<payload>\r\n
//
// The reply is left out when empty. This is nats-server's format
// (server/client.go, msgHeader and deliverMsg) and what nats.go's parser
// reads. It does not allocate when dst has room for [MsgLen] more bytes.
func AppendMsg(dst []byte, subject, sid, reply string, payload []byte) []byte {
	dst = AppendMsgLine(dst, subject, sid, reply, len(payload))
	dst = append(dst, payload...)
	return append(dst, "\r\n"...)
}

// AppendMsgLine appends the control line of a MSG frame whose payload is
// payloadLen bytes, "MSG <subject> <sid> [reply] <#bytes>\r\n", for a
// writer that sends the payload and the closing "\r\n" from elsewhere
// (AppendMsg appends all three). It does not allocate when dst has room
// for [MsgLineLen] more bytes.
func AppendMsgLine(dst []byte, subject, sid, reply string, payloadLen int) []byte {
	dst = append(dst, "MSG "...)
	dst = appendArgs(dst, subject, sid, reply)
	dst = strconv.AppendInt(dst, int64(payloadLen), 10)
	return append(dst, "\r\n"...)
}

// AppendHMsg appends a message with headers for subscription sid to dst:
//
//	HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>\r\n<header><payload>\r\n
//
// header is the header block in wire form ("NATS/1.0\r\n…\r\n\r\n"); the
// total counts header and payload. Send it only to clients whose CONNECT
// had headers true. It does not allocate when dst has room for [HMsgLen]
// more bytes.
func AppendHMsg(dst []byte, subject, sid, reply string, header, payload []byte) []byte {
	dst = AppendHMsgLine(dst, subject, sid, reply, len(header), len(payload))
	dst = append(dst, header...)
	dst = append(dst, payload...)
	return append(dst, "\r\n"...)
}

// AppendHMsgLine appends the control line of an HMSG frame whose header
// block is headerLen bytes and payload payloadLen, "HMSG <subject> <sid>
// [reply] <#header bytes> <#total bytes>\r\n", for a writer that sends
// the rest from elsewhere (AppendHMsg appends it all). It does not allocate
// when dst has room for [HMsgLineLen] more bytes.
func AppendHMsgLine(dst []byte, subject, sid, reply string, headerLen, payloadLen int) []byte {
	dst = append(dst, "HMSG "...)
	dst = appendArgs(dst, subject, sid, reply)
	dst = strconv.AppendInt(dst, int64(headerLen), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(headerLen+payloadLen), 10)
	return append(dst, "\r\n"...)
}

func appendArgs(dst []byte, subject, sid, reply string) []byte {
	dst = append(dst, subject...)
	dst = append(dst, ' ')
	dst = append(dst, sid...)
	dst = append(dst, ' ')
	if reply != "" {
		dst = append(dst, reply...)
		dst = append(dst, ' ')
	}
	return dst
}

// MsgLen returns how many bytes AppendMsg appends for these arguments and a
// payload of payloadLen bytes.
func MsgLen(subject, sid, reply string, payloadLen int) int {
	return MsgLineLen(subject, sid, reply, payloadLen) + payloadLen + 2
}

// MsgLineLen returns how many bytes AppendMsgLine appends.
func MsgLineLen(subject, sid, reply string, payloadLen int) int {
	return len("MSG ") + argsLen(subject, sid, reply) + decimalLen(payloadLen) + 2
}

// HMsgLen returns how many bytes AppendHMsg appends for these arguments, a
// header of headerLen bytes and a payload of payloadLen bytes.
func HMsgLen(subject, sid, reply string, headerLen, payloadLen int) int {
	return HMsgLineLen(subject, sid, reply, headerLen, payloadLen) + headerLen + payloadLen + 2
}

// HMsgLineLen returns how many bytes AppendHMsgLine appends.
func HMsgLineLen(subject, sid, reply string, headerLen, payloadLen int) int {
	return len("HMSG ") + argsLen(subject, sid, reply) + decimalLen(headerLen) + 1 + decimalLen(headerLen+payloadLen) + 2
}

func argsLen(subject, sid, reply string) int {
	n := len(subject) + len(sid) + 2
	if reply != "" {
		n += len(reply) + 1
	}
	return n
}

func decimalLen(n int) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

// AppendPing appends "PING\r\n" to dst.
func AppendPing(dst []byte) []byte { return append(dst, "PING\r\n"...) }

// AppendPong appends "PONG\r\n" to dst.
func AppendPong(dst []byte) []byte { return append(dst, "PONG\r\n"...) }

// AppendOK appends "+OK\r\n" to dst.
func AppendOK(dst []byte) []byte { return append(dst, "+OK\r\n"...) }

// AppendErr appends "-ERR '<text>'\r\n" to dst, the format of nats-server's
// errProto (server/client.go). text is one of the Text constants or built by
// [SubscribeViolation] or [PublishViolation]. A CR or LF in text, which
// would end the line early, is written as a space.
func AppendErr(dst []byte, text string) []byte {
	dst = append(dst, "-ERR '"...)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\r', '\n':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, "'\r\n"...)
}
