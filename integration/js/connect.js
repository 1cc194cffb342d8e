// Connects to --url, makes a PING/PONG round trip, and reports what the
// client sees of the server that matters to it (not server_id, version or
// ports, which differ from one server to another): whether it takes headers
// and JetStream, and the address it sees the client at.
import { connect } from "@nats-io/transport-node";
import { need, run } from "./scenario.js";

run(async (a) => {
  const nc = await connect({ servers: need(a, "url"), reconnect: false, timeout: 5_000 });
  try {
    await nc.flush();
    const rtt = await nc.rtt();
    const info = nc.info;
    return {
      headers: info.headers === true,
      max_payload: info.max_payload,
      proto: info.proto,
      version_is_semver: /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(info.version),
      jetstream: info.jetstream === true,
      api_lvl: info.api_lvl ?? 0,
      client_ip: info.client_ip ?? "",
      remote_account: info.remote_account ?? "",
      acc_is_sys: info.acc_is_sys === true,
      flushed: rtt >= 0,
    };
  } finally {
    await nc.close();
  }
});
