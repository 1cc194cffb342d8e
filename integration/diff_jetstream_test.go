package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// The JetStream scenarios: stock JetStream clients (nats.go's jetstream
// package, nats.js) manage streams and consumers, publish with
// acknowledgements, consume, and use the key-value and object stores
// through natsfan as they do against nats-server. It all rides on
// publishing, requests and subscriptions on interest: the JetStream API is
// requests on $JS.API.>, acknowledgements are replies, pull consumers
// deliver to the client's inbox. Observations leave out what differs from
// run to run: timestamps, ordered consumers' generated names, the server's
// identity.

// jetStreamOptions enables JetStream on both runs' nats-server (each in a
// store directory of its own) and has natsfan buffer nothing JetStream uses.
var jetStreamOptions = jetStreamWith("events.>")

// jetStreamCases are the scenarios' two settings of NATSFAN_SUBJECTS:
// buffering nothing JetStream uses, or everything (">", the default in
// embedded mode), which covers the API's subjects and the clients' inboxes.
// JetStream delivers a stream's message to a consumer's inbox under the
// subject it was stored with, not the inbox's.
var jetStreamCases = []struct {
	name string
	opts diffOptions
}{
	{"on interest", jetStreamOptions},
	{"buffered", jetStreamWith(">")},
}

// jetStreamWith enables JetStream on both runs' nats-server, with natsfan
// buffering subjects.
func jetStreamWith(subjects string) diffOptions {
	return diffOptions{Subjects: subjects, Upstream: func(o *server.Options) { o.JetStream = true }}
}

// jsContext bounds one scenario's JetStream calls.
func jsContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newJetStream returns a JetStream client on a nats.go connection of the
// client under test.
func newJetStream(t *testing.T, tg *diffTarget) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(tg.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// jsMsg is what a consumer sees of a JetStream message.
type jsMsg struct {
	Subject      string `json:"subject"`
	Data         string `json:"data"`
	StreamSeq    uint64 `json:"stream_seq"`
	ConsumerSeq  uint64 `json:"consumer_seq"`
	NumDelivered uint64 `json:"num_delivered"`
	NumPending   uint64 `json:"num_pending"`
	MsgID        string `json:"msg_id,omitempty"` // the Nats-Msg-Id header it was published with
}

func observeJSMsg(t *testing.T, m jetstream.Msg) jsMsg {
	t.Helper()
	md, err := m.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return jsMsg{Subject: m.Subject(), Data: string(m.Data()), StreamSeq: md.Sequence.Stream, ConsumerSeq: md.Sequence.Consumer,
		NumDelivered: md.NumDelivered, NumPending: md.NumPending, MsgID: m.Headers().Get(jetstream.MsgIDHeader)}
}

// receiveN returns the first n values from ch, or those that arrive within
// 3 s: what a consumer or watcher got is the observation, all of it or not.
func receiveN[T any](ch <-chan T, n int) []T {
	var got []T
	timeout := time.After(3 * time.Second)
	for len(got) < n {
		select {
		case v := <-ch:
			got = append(got, v)
		case <-timeout:
			return got
		}
	}
	return got
}

// errText is an error's text, "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDifferential_JetStreamStreamsAndPullConsumers: through natsfan, a
// nats.go client creates a stream, publishes with acknowledgements
// (deduplicated by message id), creates a durable pull consumer, fetches
// and acknowledges, consumes the rest, and sees the stream's and the
// consumer's state, and the errors for what does not exist, as from
// nats-server, whether natsfan buffers the subjects involved or not.
func TestDifferential_JetStreamStreamsAndPullConsumers(t *testing.T) {
	type pubAck struct {
		Stream    string `json:"stream"`
		Sequence  uint64 `json:"seq"`
		Duplicate bool   `json:"duplicate"`
		Err       string `json:"err,omitempty"`
	}
	type observed struct {
		Streams        []string `json:"streams"`          // names listed after creating ORDERS
		Acks           []pubAck `json:"acks"`             // one per publish
		StreamMsgs     uint64   `json:"stream_msgs"`      // the stream's message count after the publishes
		StreamSubjects []string `json:"stream_subjects"`  // its configured subjects
		Fetched        []jsMsg  `json:"fetched"`          // Fetch(3)
		Consumed       []jsMsg  `json:"consumed"`         // Consume, up to the last message
		AckPending     int      `json:"ack_pending"`      // the consumer's NumAckPending after its acks
		Pending        uint64   `json:"pending"`          // its NumPending
		NoStream       string   `json:"no_stream"`        // the error for a stream that does not exist
		NoStreamPub    string   `json:"no_stream_pub"`    // for a publish no stream takes
		EmptyFetch     int      `json:"empty_fetch"`      // what a Fetch got with nothing left
		EmptyFetchErrs string   `json:"empty_fetch_errs"` // and its error
	}
	for _, jc := range jetStreamCases {
		t.Run(jc.name, func(t *testing.T) {
			differential(t, jc.opts, func(t *testing.T, tg *diffTarget) observed {
				ctx := jsContext(t)
				js := newJetStream(t, tg)
				var obs observed
				stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
				if err != nil {
					t.Fatal(err)
				}
				names := js.StreamNames(ctx)
				for n := range names.Name() {
					obs.Streams = append(obs.Streams, n)
				}
				if err := names.Err(); err != nil {
					t.Fatal(err)
				}
				publish := []struct{ subject, data, id string }{
					{"orders.eu.new", "order 1", "1"},
					{"orders.us.new", "order 2", "2"},
					{"orders.eu.new", "order 1 again", "1"}, // a duplicate: not stored
					{"orders.eu.paid", "", ""},
					{"orders.us.paid", "order 2 paid", "4"},
					{"orders.eu.sent", "order 1 sent", "5"},
				}
				for _, p := range publish {
					var opts []jetstream.PublishOpt
					if p.id != "" {
						opts = append(opts, jetstream.WithMsgID(p.id))
					}
					ack, err := js.Publish(ctx, p.subject, []byte(p.data), opts...)
					if err != nil {
						obs.Acks = append(obs.Acks, pubAck{Err: err.Error()})
						continue
					}
					obs.Acks = append(obs.Acks, pubAck{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate})
				}
				info, err := stream.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				obs.StreamMsgs, obs.StreamSubjects = info.State.Msgs, info.Config.Subjects

				cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy})
				if err != nil {
					t.Fatal(err)
				}
				batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				for m := range batch.Messages() {
					obs.Fetched = append(obs.Fetched, observeJSMsg(t, m))
					if err := m.DoubleAck(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := batch.Error(); err != nil {
					t.Fatal(err)
				}
				consumed := make(chan jsMsg, 16)
				cc, err := cons.Consume(func(m jetstream.Msg) {
					consumed <- observeJSMsg(t, m)
					_ = m.DoubleAck(ctx)
				})
				if err != nil {
					t.Fatal(err)
				}
				obs.Consumed = receiveN(consumed, 2)
				cc.Stop()
				<-cc.Closed()
				ci, err := cons.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				obs.AckPending, obs.Pending = ci.NumAckPending, ci.NumPending

				_, err = js.Stream(ctx, "MISSING")
				obs.NoStream = errText(err)
				if jc.name != "buffered" { // bufferedNoResponders: no stream's "no responders" is a timeout there
					short, cancel := context.WithTimeout(ctx, requestTimeout)
					defer cancel()
					_, err = js.Publish(short, "nowhere.to.go", []byte("x"))
					obs.NoStreamPub = errText(err)
				}
				empty, err := cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				for range empty.Messages() {
					obs.EmptyFetch++
				}
				obs.EmptyFetchErrs = errText(empty.Error())
				return obs
			})
		})
	}
}

// TestDifferential_JetStreamOrderedConsumer: an ordered consumer through
// natsfan delivers the stream in order, from the start or from a sequence,
// by Fetch and by Consume.
func TestDifferential_JetStreamOrderedConsumer(t *testing.T) {
	type observed struct {
		Fetched  []jsMsg `json:"fetched"`  // from the start, Fetch(4)
		Consumed []jsMsg `json:"consumed"` // from sequence 3, Consume to the end
	}
	differential(t, jetStreamOptions, func(t *testing.T, tg *diffTarget) observed {
		ctx := jsContext(t)
		js := newJetStream(t, tg)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"log.>"}}); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			if _, err := js.Publish(ctx, "log."+strconv.Itoa(i%2), []byte("entry "+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		var obs observed
		oc, err := js.OrderedConsumer(ctx, "EVENTS", jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := oc.Fetch(4, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			obs.Fetched = append(obs.Fetched, observeJSMsg(t, m))
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		oc2, err := js.OrderedConsumer(ctx, "EVENTS", jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: 3, FilterSubjects: []string{"log.0"}})
		if err != nil {
			t.Fatal(err)
		}
		consumed := make(chan jsMsg, 16)
		cc, err := oc2.Consume(func(m jetstream.Msg) { consumed <- observeJSMsg(t, m) })
		if err != nil {
			t.Fatal(err)
		}
		obs.Consumed = receiveN(consumed, 2) // log.0 from sequence 3: entries 2 and 4
		cc.Stop()
		<-cc.Closed()
		return obs
	})
}

// kvEntry is what a client sees of a key-value entry: not its creation time.
type kvEntry struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Revision  uint64 `json:"revision"`
	Operation string `json:"operation"`
}

func observeKV(e jetstream.KeyValueEntry) kvEntry {
	if e == nil {
		return kvEntry{Operation: "(initial values done)"}
	}
	return kvEntry{Key: e.Key(), Value: string(e.Value()), Revision: e.Revision(), Operation: e.Operation().String()}
}

// TestDifferential_JetStreamKeyValue: a key-value bucket through natsfan:
// put, get, create and update with their revision checks, delete, keys,
// history, and a watcher that sees the initial values and every change,
// whether natsfan buffers the subjects involved or not.
func TestDifferential_JetStreamKeyValue(t *testing.T) {
	type observed struct {
		Puts       []uint64  `json:"puts"` // revisions
		Get        kvEntry   `json:"get"`
		Revision   kvEntry   `json:"revision"` // GetRevision(a, 1)
		CreateErr  string    `json:"create_err"`
		UpdateErr  string    `json:"update_err"` // with a stale revision
		Updated    uint64    `json:"updated"`    // with the right one
		Deleted    string    `json:"deleted"`    // Get after Delete
		Keys       []string  `json:"keys"`
		KeysErr    string    `json:"keys_err,omitempty"`
		History    []kvEntry `json:"history"`
		HistoryErr string    `json:"history_err,omitempty"`
		Watched    []kvEntry `json:"watched"`
	}
	for _, jc := range jetStreamCases {
		t.Run(jc.name, func(t *testing.T) {
			differential(t, jc.opts, func(t *testing.T, tg *diffTarget) observed {
				ctx := jsContext(t)
				js := newJetStream(t, tg)
				kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "config", History: 5})
				if err != nil {
					t.Fatal(err)
				}
				var obs observed
				if _, err := kv.Put(ctx, "before", []byte("watch")); err != nil {
					t.Fatal(err)
				}
				w, err := kv.WatchAll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Stop()
				for _, p := range []struct{ k, v string }{{"a", "1"}, {"b", "x"}, {"a", "2"}} {
					rev, err := kv.Put(ctx, p.k, []byte(p.v))
					if err != nil {
						t.Fatal(err)
					}
					obs.Puts = append(obs.Puts, rev)
				}
				e, err := kv.Get(ctx, "a")
				if err != nil {
					t.Fatal(err)
				}
				obs.Get = observeKV(e)
				if e, err = kv.GetRevision(ctx, "a", 2); err != nil {
					t.Fatal(err)
				}
				obs.Revision = observeKV(e)
				_, err = kv.Create(ctx, "a", []byte("3"))
				obs.CreateErr = errText(err)
				_, err = kv.Update(ctx, "a", []byte("3"), 2)
				obs.UpdateErr = errText(err)
				if obs.Updated, err = kv.Update(ctx, "a", []byte("3"), obs.Puts[2]); err != nil {
					t.Fatal(err)
				}
				if err := kv.Delete(ctx, "b"); err != nil {
					t.Fatal(err)
				}
				_, err = kv.Get(ctx, "b")
				obs.Deleted = errText(err)
				if !errors.Is(err, jetstream.ErrKeyNotFound) {
					t.Errorf("%s: Get of a deleted key: %v, want %v", tg.Name, err, jetstream.ErrKeyNotFound)
				}
				// Keys and History read the bucket with an ordered consumer:
				// a short bound shows one that delivers nothing.
				short, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				obs.Keys, err = kv.Keys(short)
				obs.KeysErr = errText(err)
				hist, err := kv.History(short, "a")
				obs.HistoryErr = errText(err)
				for _, e := range hist {
					obs.History = append(obs.History, observeKV(e))
				}
				// before, the end of the initial values, a, b, a, a, b deleted
				for _, e := range receiveN(w.Updates(), 7) {
					obs.Watched = append(obs.Watched, observeKV(e))
				}
				return obs
			})
		})
	}
}

// TestDifferential_JetStreamObjectStore: an object store through natsfan:
// an object of several chunks (each a message near max_payload's tenth) and
// an empty one go in and come out intact; info, list and delete.
func TestDifferential_JetStreamObjectStore(t *testing.T) {
	type object struct {
		Name    string `json:"name"`
		Size    uint64 `json:"size"`
		Chunks  uint32 `json:"chunks"`
		Digest  string `json:"digest"`
		Deleted bool   `json:"deleted"`
	}
	type observed struct {
		Put       []object `json:"put"`
		GotSHA256 []string `json:"got_sha256"` // of what GetBytes returned, for each object
		List      []object `json:"list"`
		Info      object   `json:"info"`       // of the big one
		AfterDel  string   `json:"after_del"`  // GetBytes's error after Delete
		MissingOK bool     `json:"missing_ok"` // that error is jetstream.ErrObjectNotFound
	}
	big := make([]byte, 300*1024+17) // three chunks of 128 KiB, the last one short
	for i := range big {
		big[i] = byte(i * 7)
	}
	objects := map[string][]byte{"big.bin": big, "empty": {}, "small.txt": []byte("hello, object store")}
	order := []string{"big.bin", "empty", "small.txt"}
	differential(t, jetStreamOptions, func(t *testing.T, tg *diffTarget) observed {
		ctx := jsContext(t)
		js := newJetStream(t, tg)
		store, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "files"})
		if err != nil {
			t.Fatal(err)
		}
		obsOf := func(i *jetstream.ObjectInfo) object {
			return object{Name: i.Name, Size: i.Size, Chunks: i.Chunks, Digest: i.Digest, Deleted: i.Deleted}
		}
		var obs observed
		for _, name := range order {
			info, err := store.PutBytes(ctx, name, objects[name])
			if err != nil {
				t.Fatal(err)
			}
			obs.Put = append(obs.Put, obsOf(info))
		}
		for _, name := range order {
			got, err := store.GetBytes(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, objects[name]) {
				t.Errorf("%s: %s came back with %d bytes, not the %d put", tg.Name, name, len(got), len(objects[name]))
			}
			sum := sha256.Sum256(got)
			obs.GotSHA256 = append(obs.GotSHA256, hex.EncodeToString(sum[:]))
		}
		list, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range list {
			obs.List = append(obs.List, obsOf(i))
		}
		info, err := store.GetInfo(ctx, "big.bin")
		if err != nil {
			t.Fatal(err)
		}
		obs.Info = obsOf(info)
		if err := store.Delete(ctx, "big.bin"); err != nil {
			t.Fatal(err)
		}
		_, err = store.GetBytes(ctx, "big.bin")
		obs.AfterDel, obs.MissingOK = errText(err), errors.Is(err, jetstream.ErrObjectNotFound)
		return obs
	})
}

// TestDifferential_JetStreamNatsJS: nats.js through natsfan creates a
// stream, publishes with acknowledgements, consumes with a durable
// consumer, and puts and gets key-value entries, as against nats-server,
// whether natsfan buffers the subjects involved or not.
func TestDifferential_JetStreamNatsJS(t *testing.T) {
	for _, jc := range jetStreamCases {
		t.Run(jc.name, func(t *testing.T) {
			differential(t, jc.opts, func(t *testing.T, tg *diffTarget) map[string]any {
				var obs map[string]any
				args := []string{"--url", tg.URL}
				if jc.name != "buffered" { // bufferedNoResponders
					args = append(args, "--no-stream-pub", "nowhere.to.go")
				}
				decodeObservation(t, "jetstream.js", runNode(t, "jetstream.js", args...), &obs)
				return obs
			})
		})
	}
}
