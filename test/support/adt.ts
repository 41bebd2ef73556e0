/**
 * An HL7 interface engine's side of ADT for tests: messages as an engine sends them (PV1-19 the
 * visit number, PV1-44 when the visit began) over real MLLP, each answered by the agent's ACK.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { mllpFrame, MllpDeframer } from '../../drivers/serial/hl7/mllp.js'
import { parseMessage, text } from '../../drivers/serial/hl7/message.js'

export const hl7Time = (ms: number): string => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000'

export interface AdtPatient {
  readonly mrn: string
  readonly visit: string
  /** PV1-44: when the visit began (ms). */
  readonly admitMs: number
}

/** An ADT^`trigger` message for `patient` at `location` (PV1-3, e.g. `WA^1`). */
export function adtMessage(trigger: string, control: string, location: string, patient: AdtPatient): string {
  const now = hl7Time(Date.now())
  const pv1 = ['PV1', '1', 'I', location, ...Array(15).fill(''), patient.visit, ...Array(24).fill(''), hl7Time(patient.admitMs)]
  return [`MSH|^~\\&|ENGINE|GH|BEDSIDE-HUB|WARD|${now}||ADT^${trigger}^ADT_A01|${control}|P|2.6`, `EVN|${trigger}|${now}`,
    `PID|1||${patient.mrn}^^^GH^MR||Plantagenet^Zebulon||19310111`, pv1.join('|')].join('\r') + '\r'
}

/** Sends one MLLP frame to the agent's ADT listener and resolves with its ACK code (MSA-1). */
export async function sendAdt(port: number, message: string): Promise<string> {
  const socket: Socket = netConnect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const ack = new Promise<string>((resolve, reject) => {
    const d = new MllpDeframer({ message: (b) => { const m = parseMessage(b.toString('utf8')); resolve(text(m.segments.find((s) => s.id === 'MSA'), 1, 1, m.delimiters)) }, reject: (e) => reject(e) })
    socket.on('data', (x: Buffer) => d.push(x))
  })
  socket.write(mllpFrame(message))
  try {
    return await ack
  } finally {
    socket.destroy()
  }
}
