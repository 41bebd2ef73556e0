/**
 * Config `hl7.adt` (issue 21): the ADT listener is off unless configured, loopback by default,
 * plain MLLP beyond loopback refused unless TLS or insecure, and the location map checked against
 * the ward's beds, every problem named by its path.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, parseConfig } from '../../agent/config.js'

const base = { hub: { id: 'ward-3a', site: 'general', data_dir: '/tmp/x' }, beds: [{ id: '3a-01' }, { id: '3a-02' }] }

function problems(doc: unknown): string[] {
  try {
    parseConfig(doc)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    return [...err.problems]
  }
  assert.fail('config was accepted')
}

test('hl7 config: absent means no ADT listener; present listens on loopback 2575 by default', () => {
  assert.equal(parseConfig(base).hl7, undefined)
  const cfg = parseConfig({ ...base, hl7: { adt: { locations: [{ point_of_care: '3A', room: '301', bed: '1', bed_id: '3a-01' }, { point_of_care: '3A', room: '302', bed_id: '3a-02' }] } } })
  assert.equal(cfg.hl7?.adt?.listen, '127.0.0.1:2575')
  assert.equal(cfg.hl7?.adt?.max_connections, 8)
  assert.equal(cfg.hl7?.adt?.locations.length, 2)
  assert.ok(Object.isFrozen(cfg.hl7?.adt?.locations[0]))
})

test('hl7 config: unknown beds, duplicate locations, a bed without its room, plain MLLP beyond loopback and unknown keys are each named', () => {
  const p = problems({
    ...base,
    hl7: {
      adt: {
        listen: '0.0.0.0:2575',
        locations: [
          { point_of_care: '3A', room: '301', bed: '1', bed_id: '3a-09' },
          { point_of_care: '3A', room: '302', bed_id: '3a-02' },
          { point_of_care: '3A', room: '302', bed_id: '3a-01' },
          { point_of_care: '3A', bed: '4', bed_id: '3a-01' },
        ],
        bogus: 1,
      },
      results: { target: '10.0.0.5:2575', period_s: 1, bogus_r: 1 },
      alarms: { target: '127.0.0.1:2577', tls: { cert: '/c.pem' } },
      orders: {},
    },
  })
  const has = (re: RegExp) => assert.ok(p.some((x) => re.test(x)), `no problem matching ${re} in\n${p.join('\n')}`)
  has(/^hl7\.adt\.locations\[0\]\.bed_id: unknown bed "3a-09"/)
  has(/^hl7\.adt\.locations\[2\]: location 3A\^302\^\* is already mapped by locations\[1\]/)
  has(/^hl7\.adt\.locations\[3\]\.bed: bed needs room/)
  has(/^hl7\.adt\.listen: "0\.0\.0\.0:2575" is not a loopback address/)
  has(/^hl7\.adt\.bogus: unknown key/)
  has(/^hl7\.orders: unknown key/)
  // issue 21 part 2: the outputs' fields, each named
  has(/^hl7\.results\.target: "10\.0\.0\.5:2575" is not a loopback address and hl7\.results\.tls is not set/)
  has(/^hl7\.results\.period_s: /)
  has(/^hl7\.results\.bogus_r: unknown key/)
  has(/^hl7\.alarms\.tls\.cert: cert and key go together/)
})

test('hl7 config: results and alarms targets with their defaults (period 60 s, ACK timeout 30 s, backoff up to 60 s)', () => {
  const cfg = parseConfig({ ...base, hl7: { results: { target: '127.0.0.1:2575' }, alarms: { target: 'am.hospital.example:2575', tls: { ca: '/ca.pem' }, receiving_application: 'ACM' } } })
  assert.equal(cfg.hl7?.results?.period_s, 60)
  assert.equal(cfg.hl7?.results?.ack_timeout_s, 30)
  assert.equal(cfg.hl7?.alarms?.max_backoff_s, 60)
  assert.equal(cfg.hl7?.alarms?.receiving_application, 'ACM')
  const p = problems({ ...base, hl7: { alarms: { target: '127.0.0.1:2575', sending_application: 'A^B' } } })
  assert.ok(p.some((x) => /^hl7\.alarms\.sending_application: no HL7 delimiters/.test(x)), p.join('\n'))
})

test('hl7 config: beyond loopback, TLS with client certificates or allow_from, or insecure, is accepted; client certificates need a CA', () => {
  assert.doesNotThrow(() => parseConfig({ ...base, hl7: { adt: { listen: '0.0.0.0:2575', insecure: true } } }))
  assert.doesNotThrow(() => parseConfig({ ...base, hl7: { adt: { listen: '0.0.0.0:2575', tls: { cert: '/c.pem', key: '/k.pem', ca: '/ca.pem', client_certs: 'require' } } } }))
  assert.doesNotThrow(() => parseConfig({ ...base, hl7: { adt: { listen: '0.0.0.0:2575', tls: { cert: '/c.pem', key: '/k.pem' }, allow_from: ['10.20.0.7'] } } }))
  // TLS alone names no sender: an anonymous discharge ended a bed's alarms (red-team finding, session 11)
  const anyone = problems({ ...base, hl7: { adt: { listen: '0.0.0.0:2575', tls: { cert: '/c.pem', key: '/k.pem' } } } })
  assert.ok(anyone.some((x) => /^hl7\.adt\.tls\.client_certs: "0\.0\.0\.0:2575" is not a loopback address and nothing says who may send/.test(x)), anyone.join('\n'))
  const bad = problems({ ...base, hl7: { adt: { listen: '0.0.0.0:2575', insecure: true, allow_from: ['engine.hospital'] } } })
  assert.ok(bad.some((x) => /^hl7\.adt\.allow_from\[0\]: must be an IP address or a CIDR range/.test(x)), bad.join('\n'))
  const p = problems({ ...base, hl7: { adt: { tls: { cert: '/c.pem', key: '/k.pem', client_certs: 'require' } } } })
  assert.ok(p.some((x) => /^hl7\.adt\.tls\.ca: client_certs optional or require needs ca/.test(x)), p.join('\n'))
})

test('hl7 config: the ADT listener may not share its port with an hl7-tcp device', () => {
  const p = problems({ ...base, beds: [{ id: '3a-01', devices: [{ id: 'gw-1', type: 'hl7-tcp', listen: '0.0.0.0:2575' }] }], hl7: { adt: { insecure: true } } })
  assert.ok(p.some((x) => /^hl7\.adt\.listen: "127\.0\.0\.1:2575" is also the listen address of HL7 device "gw-1"/.test(x)), p.join('\n'))
  assert.doesNotThrow(() => parseConfig({ ...base, beds: [{ id: '3a-01', devices: [{ id: 'gw-1', type: 'hl7-tcp', listen: '0.0.0.0:2575', allow_from: ['10.20.4.0/24'] }] }], hl7: { adt: { listen: '127.0.0.1:2576' } } }))
})

test('hl7 config: an hl7-tcp device beyond loopback needs allow_from (or insecure); allow_from entries are addresses or CIDR ranges', () => {
  const bed = (device: Record<string, unknown>) => ({ ...base, beds: [{ id: '3a-01', devices: [{ id: 'gw-1', type: 'hl7-tcp', ...device }] }] })
  const open = problems(bed({ listen: '0.0.0.0:2575' }))
  assert.ok(open.some((x) => /^beds\[0\]\.devices\[0\]\.listen: "0\.0\.0\.0:2575" is not a loopback address and allow_from is not set/.test(x)), open.join('\n'))
  const bad = problems(bed({ listen: '0.0.0.0:2575', allow_from: ['10.20.4.0/33', 'gateway-1', '10.20.4.7/0'] }))
  assert.equal(bad.filter((x) => /^beds\[0\]\.devices\[0\]\.allow_from\[[01]\]: must be an IP address or a CIDR range/.test(x)).length, 2, bad.join('\n'))
  assert.ok(bad.some((x) => /^beds\[0\]\.devices\[0\]\.allow_from\[2\]: a \/0 range allows every address: set insecure: true instead/.test(x)), bad.join('\n'))
  const ok = parseConfig(bed({ listen: '0.0.0.0:2575', allow_from: ['10.20.0.15', '10.20.4.0/24', 'fd00::/8'] }))
  const d = ok.beds[0]!.devices[0] as { max_connections: number; idle_timeout_s: number; max_message_bytes: number }
  assert.deepEqual([d.max_connections, d.idle_timeout_s, d.max_message_bytes], [8, 300, 256 << 10])
  parseConfig(bed({ listen: '0.0.0.0:2575', insecure: true }))
  parseConfig(bed({ listen: '127.0.0.1:2575' }))
})
