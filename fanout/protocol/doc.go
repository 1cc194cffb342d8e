// Package protocol is the codec for the NATS client protocol as natsfan
// speaks it on its consumer socket: it parses what a client sends (CONNECT,
// PING, PONG, SUB, UNSUB, PUB, HPUB, and the rarer INFO, +OK and -ERR) and
// encodes what a server sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR). It
// does no I/O of its own and holds no goroutines: the connection that owns a
// [Parser] feeds it what it reads, and appends encoded frames to its own
// write buffer so that many frames leave in one syscall.
//
// # Fidelity
//
// The reference is nats-server v2.15 (server/parser.go and server/client.go)
// on the parsing side and nats.go v1.55 (parser.go) on the receiving side of
// what is encoded. The parser accepts what nats-server accepts from a client
// connection and rejects what it rejects, with the -ERR text nats-server
// sends, so a stock NATS client cannot tell natsfan from nats-server:
//
//   - verbs in any case ("sub", "Sub", "SUB");
//   - runs of spaces and tabs between arguments, and trailing blanks;
//   - lines ending in "\r\n" or in a bare "\n";
//   - anything after PING, PONG or +OK up to the end of the line is ignored
//     ("PING foo\r\n" is a PING), and CONNECT needs no blank before its JSON;
//   - a PUB or HPUB payload is exactly the declared number of bytes, may
//     contain CR and LF, and must be followed by "\r\n".
//
// nats.go, for one, sends a SUB without queue group with two spaces, and an
// UNSUB without count with a trailing space:
//
//	"SUB foo  1\r\n"
//	"UNSUB 1 \r\n"
//
// A [*ProtocolError] says what nats-server does with bad input: its Text is
// the -ERR line to send before closing the connection, or empty when
// nats-server closes without a word (malformed arguments, such as "PUB foo"
// with no size). Every error the parser returns ends the connection.
//
// It differs from nats-server on purpose in corners no client reaches:
//
//   - MSG and HMSG from a client are unknown operations (nats-server's
//     parser lets an HMSG without payload through and ignores it);
//   - a CR inside a control line separates arguments on every verb
//     (nats-server does so for SUB and UNSUB only, and how it treats a
//     stray CR in a PUB line depends on where its reads were cut), so that
//     no argument can carry a CR into a MSG line;
//   - "CONNECT\n" has an empty argument (nats-server takes the LF as the
//     first byte of the JSON and reads on into the next line).
//
// # Limits and memory
//
// A Parser never holds more than one control line (at most
// [Parser.MaxControlLine] bytes) and one payload (at most
// [Parser.MaxPayload] bytes) of partial input. A line longer than the limit
// is refused as soon as its length passes the limit, whether or not its end
// has arrived (nats-server checks at the end of each read); a PUB declaring
// more than the payload limit is refused before its payload is read. Blanks
// after a verb and the rest of a PING line are skipped without being kept,
// and, as in nats-server, do not count towards the limit.
//
// # Encoding
//
// The Append functions append one server frame to a byte slice and return
// the extended slice, like [strconv.AppendInt]. [AppendMsg] and
// [AppendHMsg] do not allocate when the slice has room; [MsgLen] and
// [HMsgLen] say how much room a frame needs. The frames are byte for byte
// what nats-server writes. A client that did not announce header support in
// its CONNECT must get MSG with the header stripped, never HMSG (that is
// what nats-server does).
package protocol
