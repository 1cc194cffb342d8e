// Publishes on --url what the Go tests' publishedMessages("--prefix") holds,
// in order (PUB and HPUB, reply subjects, header keys with several values,
// empty and binary payloads), after subscribing to <prefix>.> on its own
// connection (echo) and on a second one. It flushes and stops at step
// "published", for the test to make sure upstream has them all and publish
// --fence; then it reports what each subscription received before the fence:
// { own, local }.
import { connect, headers } from "@nats-io/transport-node";
import { need, observe, run, step } from "./scenario.js";

function messages(prefix) {
  const binary = new Uint8Array(256).map((_, i) => i);
  const text = (s) => new TextEncoder().encode(s);
  const hdrs = (fields) => {
    const h = headers();
    for (const [k, vs] of fields) {
      for (const v of vs) {
        h.append(k, v);
      }
    }
    return h;
  };
  return [
    { subject: `${prefix}.plain`, data: text("hello") },
    { subject: `${prefix}.reply`, reply: "answers.here", data: text("with a reply subject") },
    { subject: `${prefix}.empty` },
    { subject: `${prefix}.binary`, data: binary },
    {
      subject: `${prefix}.headers`,
      reply: "_INBOX.elsewhere.1",
      data: text('{"id":42}'),
      headers: hdrs([["Order-Id", ["42"]], ["Trace", ["a", "b", "c d"]], ["lower-case", ["v"]]]),
    },
    { subject: `${prefix}.headers.only`, headers: hdrs([["Only", ["header"]]]) },
    { subject: `${prefix}.protocol`, data: text("PING\r\nPUB x 1\r\n\r\nMSG a 1 2\r\n") },
    { subject: `${prefix}.plain`, data: text("second") },
    { subject: `${prefix}.end`, data: text("end") },
  ];
}

run(async (a) => {
  const url = need(a, "url");
  const prefix = need(a, "prefix");
  const fence = need(a, "fence");
  const pub = await connect({ servers: url, reconnect: false, timeout: 5_000 });
  const other = await connect({ servers: url, reconnect: false, timeout: 5_000 });
  try {
    const collect = (nc) => {
      const sub = nc.subscribe(`${prefix}.>`);
      return (async () => {
        const got = [];
        for await (const m of sub) {
          if (m.subject === fence) {
            break;
          }
          got.push(observe(m));
        }
        return got;
      })();
    };
    const own = collect(pub);
    const local = collect(other);
    await Promise.all([pub.flush(), other.flush()]);
    for (const m of messages(prefix)) {
      pub.publish(m.subject, m.data, { reply: m.reply, headers: m.headers });
    }
    await pub.flush();
    await step("published");
    return { own: await own, local: await local };
  } finally {
    await Promise.all([pub.close(), other.close()]);
  }
});
