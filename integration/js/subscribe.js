// Subscribes to each of --subjects (comma-separated) on --url, flushes so
// that the server has the subscriptions, and stops at step "subscribed" for
// the test to publish. Each subscription then reports, in the order they
// arrived, the messages it received up to and including the first on --end;
// with several ends (comma-separated), up to the first on each end its
// subject matches.
import { connect } from "@nats-io/transport-node";
import { matches, need, observe, run, step } from "./scenario.js";

run(async (a) => {
  const subjects = need(a, "subjects").split(",");
  const ends = need(a, "end").split(",");
  const nc = await connect({ servers: need(a, "url"), reconnect: false, timeout: 5_000 });
  try {
    const collected = subjects.map(async (subject) => {
      const messages = [];
      const waiting = new Set(ends.filter((end) => matches(subject, end)));
      for await (const m of nc.subscribe(subject)) {
        messages.push(observe(m));
        waiting.delete(m.subject);
        if (waiting.size === 0) {
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
