// Small Node helpers for services.sh: free-port picking and readiness probes.
// A probe makes one short attempt and exits 0 (ready) or 1 (not yet, reason on stderr);
// services.sh owns the retry loop so it can also notice a JVM that died.
//   node probe.mjs ports N            -> N distinct free loopback ports, one per line
//   node probe.mjs kafka 127.0.0.1:P  -> a metadata request (admin.describeCluster) succeeds
//   node probe.mjs cassandra 127.0.0.1:P -> SELECT release_version FROM system.local succeeds
//   node probe.mjs registry 127.0.0.1:P  -> the Confluent-compatible API lists its subjects
import net from 'node:net';

// Below the kernel's ephemeral range (32768-60999 by default), so an outgoing connection
// cannot take a service's port while the service is stopped for an outage test.
const PORT_MIN = 20000;
const PORT_SPAN = 12000;
const PORT_TRIES = 200;

function listenOn(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

async function freePorts(count) {
  const held = [];
  for (let attempt = 0; attempt < PORT_TRIES && held.length < count; attempt += 1) {
    const port = PORT_MIN + Math.floor(Math.random() * PORT_SPAN);
    if (held.some((s) => s.address().port === port)) continue;
    const server = await listenOn(port);
    if (server !== null) held.push(server);
  }
  if (held.length < count) throw new Error(`found only ${held.length} of ${count} free ports`);
  const ports = held.map((s) => s.address().port);
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function probeKafka(broker, security = {}) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({
    ...security,
    clientId: 'services-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) throw new Error('metadata lists no broker yet');
    if (cluster.controller === null || cluster.controller < 0) throw new Error('no active controller yet');
  } finally {
    await admin.disconnect();
  }
}

async function probeCassandra(contact) {
  const { Client } = (await import('cassandra-driver')).default;
  const client = new Client({
    contactPoints: [contact],
    localDataCenter: 'datacenter1',
    socketOptions: { connectTimeout: 2000, readTimeout: 5000 },
  });
  try {
    await client.connect();
    const result = await client.execute('SELECT release_version FROM system.local');
    if (result.rows.length !== 1) throw new Error('system.local returned no row');
  } finally {
    await client.shutdown();
  }
}

// Apicurio's Confluent-compatible API answers only once storage is up: a real request, not a port check.
async function probeRegistry(endpoint) {
  const res = await fetch(`http://${endpoint}/apis/ccompat/v7/subjects`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`GET /apis/ccompat/v7/subjects answered ${res.status}`);
  const body = await res.json();
  if (!Array.isArray(body)) throw new Error('GET /apis/ccompat/v7/subjects did not answer a list');
}

// kafka-secure: TLS verified against the generated CA, client certificate, SCRAM-SHA-512.
async function secureOptions(stateDir) {
  const { readFileSync } = await import('node:fs');
  const f = (name) => readFileSync(`${stateDir}/tls/${name}`, 'utf8');
  return {
    ssl: { rejectUnauthorized: true, ca: [f('ca.pem')], cert: f('client.pem'), key: f('client.key') },
    sasl: { mechanism: 'scram-sha-512', username: f('sasl-user').trim(), password: f('sasl-password').trim() },
  };
}

async function main([command, arg, stateDir]) {
  if (command === 'ports') {
    process.stdout.write((await freePorts(Number(arg))).join('\n') + '\n');
  } else if (command === 'kafka' || /^cluster-kafka-\d$/.test(command)) {
    await probeKafka(arg);
  } else if (command === 'kafka-secure') {
    await probeKafka(arg, await secureOptions(stateDir));
  } else if (command === 'cassandra' || /^cluster-cassandra-\d$/.test(command)) {
    await probeCassandra(arg);
  } else if (command === 'registry') {
    await probeRegistry(arg);
  } else {
    throw new Error(`usage: probe.mjs ports N | kafka HOST:PORT | cassandra HOST:PORT (got ${command})`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
