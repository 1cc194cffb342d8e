// Shared by the nats.js scenario scripts that integration/differential_test.go
// runs (runNode, startNode). A script:
//   - takes its parameters as --name value arguments (args());
//   - may stop at a named step for the Go test to act (await step("subscribed"));
//   - prints its observation as one JSON document on stdout and exits 0, or
//     prints the error on stderr and exits 1 (run()).
import { writeSync } from "node:fs";
import { createInterface } from "node:readline";

// args returns the --name value arguments as an object; a name without a
// value is true. A name given twice keeps the last value.
export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      throw new Error(`unexpected argument ${JSON.stringify(a)}: expected --name value`);
    }
    const name = a.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      out[name] = argv[++i];
    } else {
      out[name] = true;
    }
  }
  return out;
}

// need returns the argument name, failing when it is missing.
export function need(a, name) {
  if (a[name] === undefined || a[name] === true) {
    throw new Error(`missing argument --${name}`);
  }
  return a[name];
}

// stdout is for the observation alone: whatever the client library logs
// goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

let stdin;

// step tells the Go test that the script reached the named step (a line on
// file descriptor 3, which startNode opens) and waits until the test lets it
// go on (a line on stdin). Between the two, the test acts: publishes,
// restarts a server, and so on.
export async function step(name) {
  try {
    writeSync(3, name + "\n");
  } catch (err) {
    throw new Error(`step ${name}: no step channel on fd 3 (run the script with startNode, not runNode): ${err.message}`);
  }
  stdin ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const { done } = await stdin.next();
  if (done) {
    throw new Error(`step ${name}: the test closed stdin instead of letting the script go on`);
  }
}

// run runs the scenario main(args), prints what it returns as JSON on stdout
// and exits 0; on an error, or when it takes longer than timeoutMs, it
// prints the error on stderr and exits 1.
export function run(main, timeoutMs = 20_000) {
  const timer = setTimeout(() => fail(new Error(`scenario did not finish within ${timeoutMs} ms`)), timeoutMs);
  Promise.resolve()
    .then(() => main(args()))
    .then((obs) => {
      clearTimeout(timer);
      process.stdout.write(JSON.stringify(obs) + "\n", () => process.exit(0));
    })
    .catch(fail);
}

function fail(err) {
  process.stderr.write((err && err.stack ? err.stack : String(err)) + "\n", () => process.exit(1));
}

// base64 returns the bytes of a payload in base64, the form the Go tests
// use for payloads ([]byte in encoding/json).
export function base64(data) {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

// observe returns a message as the Go tests' receivedMsg holds it: subject,
// reply, the header block's status, its fields in the order the client
// gives them (null without a header block), and the payload in base64.
export function observe(m) {
  return {
    subject: m.subject,
    reply: m.reply || "",
    status: m.headers && m.headers.code ? `${m.headers.code} ${m.headers.description}`.trim() : undefined,
    headers: m.headers ? [...m.headers].map(([key, values]) => ({ key, values })) : null,
    payload: base64(m.data),
  };
}

// matches reports whether subject matches pattern, with NATS wildcards: "*"
// for one token, ">" for one or more at the end.
export function matches(pattern, subject) {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") {
      return s.length > i;
    }
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) {
      return false;
    }
  }
  return p.length === s.length;
}
