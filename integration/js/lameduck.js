// Connects to --url, stops at step "connected" for the test to shut the
// server down, and reports the status events the client sees until it is
// disconnected: lame duck mode ("ldm") first, as nats-server announces it.
import { connect } from "@nats-io/transport-node";
import { need, run, step } from "./scenario.js";

run(async (a) => {
  const nc = await connect({ servers: need(a, "url"), maxReconnectAttempts: 0, timeout: 5_000 });
  const events = [];
  const seen = (async () => {
    for await (const s of nc.status()) {
      if (s.type === "ldm" || s.type === "disconnect") {
        events.push(s.type);
      }
      if (s.type === "disconnect") {
        return;
      }
    }
  })();
  await nc.flush();
  await step("connected");
  await Promise.race([seen, nc.closed()]);
  await nc.close();
  return { events };
});
