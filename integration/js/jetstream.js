// JetStream with nats.js on --url: creates stream ORDERS on orders.>,
// publishes with acknowledgements (one a duplicate by message id), consumes
// with a durable pull consumer (fetch, then consume), and puts and gets
// key-value entries; with --no-stream-pub, publishes on that subject, which no
// stream takes. Reports what the client saw, without timestamps.
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { need, run } from "./scenario.js";

function describe(err) {
  return `${err.name}: ${err.message}`;
}

function observe(m) {
  return {
    subject: m.subject,
    data: m.string(),
    stream_seq: m.seq,
    delivered: m.info.deliveryCount,
    pending: m.info.pending,
    msg_id: m.headers?.get("Nats-Msg-Id") ?? "",
  };
}

run(async (a) => {
  const nc = await connect({ servers: need(a, "url"), reconnect: false, timeout: 5_000 });
  try {
    const obs = {};
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    obs.stream = { name: si.config.name, subjects: si.config.subjects, msgs: si.state.messages };

    const js = jetstream(nc);
    obs.acks = [];
    for (const [subject, data, msgID] of [
      ["orders.eu.new", "order 1", "1"],
      ["orders.us.new", "order 2", "2"],
      ["orders.eu.new", "order 1 again", "1"],
      ["orders.eu.paid", "", undefined],
      ["orders.us.paid", "order 2 paid", "4"],
    ]) {
      try {
        const pa = await js.publish(subject, data, msgID ? { msgID } : {});
        obs.acks.push({ stream: pa.stream, seq: pa.seq, duplicate: pa.duplicate });
      } catch (err) {
        obs.acks.push({ err: describe(err) });
      }
    }
    if (a["no-stream-pub"]) {
      try {
        await js.publish(a["no-stream-pub"], "x");
        obs.no_stream_pub = "an ack";
      } catch (err) {
        obs.no_stream_pub = describe(err);
      }
    }
    obs.stream_msgs = (await jsm.streams.info("ORDERS")).state.messages;

    await jsm.consumers.add("ORDERS", { durable_name: "worker", ack_policy: AckPolicy.Explicit });
    const c = await js.consumers.get("ORDERS", "worker");
    obs.fetched = [];
    for await (const m of await c.fetch({ max_messages: 2, expires: 5_000 })) {
      obs.fetched.push(observe(m));
      await m.ackAck();
    }
    obs.consumed = [];
    const messages = await c.consume();
    for await (const m of messages) {
      obs.consumed.push(observe(m));
      await m.ackAck();
      if (obs.consumed.length === 2) {
        break;
      }
    }
    const ci = await c.info();
    obs.ack_pending = ci.num_ack_pending;
    obs.pending = ci.num_pending;

    const kv = await new Kvm(nc).create("config", { history: 5 });
    obs.kv_puts = [await kv.put("a", "1"), await kv.put("b", "x"), await kv.put("a", "2")];
    const e = await kv.get("a");
    obs.kv_get = { key: e.key, value: e.string(), revision: e.revision, operation: e.operation };
    try {
      await kv.create("a", "3");
      obs.kv_create = "created";
    } catch (err) {
      obs.kv_create = describe(err);
    }
    obs.kv_missing = (await kv.get("nope")) === null;
    return obs;
  } finally {
    await nc.close();
  }
});
