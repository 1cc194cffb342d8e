// Connects to --url as --name, subscribes to --subject and stops at step
// "subscribed"; then reads until a message on --end has arrived and stops
// at step "received", still connected and subscribed, for the test to look
// at natsfan's /connz; then closes the connection and reports how many
// messages it received.
import { connect } from "@nats-io/transport-node";
import { need, run, step } from "./scenario.js";

run(async (a) => {
  const nc = await connect({ servers: need(a, "url"), name: need(a, "name"), reconnect: false, timeout: 5_000 });
  const end = need(a, "end");
  let received = 0;
  let sawEnd;
  const ended = new Promise((resolve) => (sawEnd = resolve));
  const sub = nc.subscribe(need(a, "subject"));
  const reading = (async () => {
    for await (const m of sub) {
      received++;
      if (m.subject === end) {
        sawEnd();
      }
    }
  })();
  await nc.flush(); // the PONG says the server has processed the SUB
  await step("subscribed");
  await ended;
  await step("received");
  await nc.close();
  await reading;
  return { received };
}, 60_000);
