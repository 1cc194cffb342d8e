// Serves requests on --subject (in queue group --queue, if given) on --url,
// answering each with --prefix and the request's payload. It flushes, so
// that the server has the subscription, and stops at step "serving" for the
// test to make requests; then it drains and reports how many it handled:
// { handled }.
import { connect } from "@nats-io/transport-node";
import { need, run, step } from "./scenario.js";

run(async (a) => {
  const nc = await connect({ servers: need(a, "url"), reconnect: false, timeout: 5_000 });
  const prefix = new TextEncoder().encode(need(a, "prefix"));
  let handled = 0;
  const opts = typeof a.queue === "string" ? { queue: a.queue } : {};
  nc.subscribe(need(a, "subject"), {
    ...opts,
    callback: (err, m) => {
      if (err) {
        throw err;
      }
      handled++;
      const data = new Uint8Array(prefix.length + m.data.length);
      data.set(prefix);
      data.set(m.data, prefix.length);
      m.respond(data);
    },
  });
  await nc.flush();
  await step("serving");
  await nc.drain();
  return { handled };
});
