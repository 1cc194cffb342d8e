// Subscribes to each of --subjects (comma-separated) on --url, flushes so
// that the server has the subscriptions, and stops at step "subscribed" for
// the test to publish. Each subscription then reports, in the order they
// arrived, the messages it received up to and including the first on --end.
import { connect } from "@nats-io/transport-node";
import { need, observe, run, step } from "./scenario.js";

run(async (a) => {
  const subjects = need(a, "subjects").split(",");
  const end = need(a, "end");
  const nc = await connect({ servers: need(a, "url"), reconnect: false, timeout: 5_000 });
  try {
    const collected = subjects.map(async (subject) => {
      const messages = [];
      for await (const m of nc.subscribe(subject)) {
        messages.push(observe(m));
        if (m.subject === end) {
          break;
        }
      }
      return { subject, messages };
    });
    await nc.flush(); // the PONG says the server has processed the SUBs
    await step("subscribed");
    return await Promise.all(collected);
  } finally {
    await nc.close();
  }
});
