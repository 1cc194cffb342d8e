// Requests on --url: --count requests on --subject with its shared inbox,
// the same with an inbox per request (noMux), and, if given, one on
// --nobody, which nobody serves. Request i has the payload "request i" (none for the first)
// and, when i is odd, the header Req-Id: i. Reports each reply's payload and
// header fields (sorted by key: a nats.go responder writes them in map
// order), or the request's error, which ends the series: { replies,
// no_mux, no_responders }.
import { connect, headers } from "@nats-io/transport-node";
import { base64, need, run } from "./scenario.js";

// describe is what the Go tests compare of an error: its name and message,
// and its cause's.
function describe(err) {
  let s = `${err.name}: ${err.message}`;
  if (err.cause) {
    s += ` (cause ${err.cause.name}: ${err.cause.message})`;
  }
  return s;
}

async function requests(nc, subject, count, noMux) {
  const got = [];
  for (let i = 0; i < count; i++) {
    const data = i > 0 ? new TextEncoder().encode(`request ${i}`) : undefined;
    const opts = { timeout: 2_000, noMux };
    if (i % 2 === 1) {
      opts.headers = headers();
      opts.headers.set("Req-Id", String(i));
    }
    try {
      const r = await nc.request(subject, data, opts);
      const fields = r.headers ? [...r.headers].map(([key, values]) => ({ key, values })) : null;
      fields?.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
      got.push({ payload: base64(r.data), headers: fields });
    } catch (err) {
      got.push({ payload: null, headers: null, err: describe(err) });
      break;
    }
  }
  return got;
}

run(async (a) => {
  const nc = await connect({ servers: need(a, "url"), reconnect: false, timeout: 5_000 });
  try {
    const subject = need(a, "subject");
    const count = Number(need(a, "count"));
    const replies = await requests(nc, subject, count, false);
    const noMux = await requests(nc, subject, count, true);
    let noResponders = "";
    if (a.nobody) {
      try {
        await nc.request(a.nobody, undefined, { timeout: 2_000 });
        noResponders = "a reply";
      } catch (err) {
        noResponders = describe(err);
      }
    }
    return { replies, no_mux: noMux, no_responders: noResponders };
  } finally {
    await nc.close();
  }
});
