/**
 * One MLLP message body → outcome (values + ACK code), shared by the serial driver, the TCP
 * listener and `bedside-hub decode hl7 HEX`. Pure.
 */
import { DecodeError } from '../../errors.js'
import { qualityToNames } from '../../records.js'
import { serialRefOf } from '../local-codes.js'
import { ackCodeFor, type AckCode } from './ack.js'
import { parseMessage, type Hl7Message } from './message.js'
import { MllpDeframer } from './mllp.js'
import { readOru, type OruContent } from './oru.js'

export type Hl7Outcome =
  | { readonly ack: 'AA'; readonly message: Hl7Message; readonly content: OruContent }
  | { readonly ack: Exclude<AckCode, 'AA'>; readonly message?: Hl7Message; readonly controlId: string; readonly error: DecodeError }

/** Parses and interprets one message body; never throws for bad input (the outcome says why). */
export function processMessage(body: Buffer, defaultOffsetMin = 0): Hl7Outcome {
  let message: Hl7Message | undefined
  try {
    message = parseMessage(body.toString('utf8'))
    return { ack: 'AA', message, content: readOru(message, defaultOffsetMin) }
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err // a bug, not bad input: let it surface
    return { ack: ackCodeFor(err), message, controlId: controlIdOf(message), error: err }
  }
}

function controlIdOf(m: Hl7Message | undefined): string {
  const raw = m?.msh.fields[10] ?? ''
  const cut = m ? raw.split(m.delimiters.component)[0]! : ''
  return cut
}

/** JSON of an accepted message (CLI contract: MDC reference ids, UCUM units, quality names). */
export function contentToJson(c: OruContent): object {
  return {
    protocol: 'hl7',
    controlId: c.controlId,
    senderId: c.senderId,
    ack: 'AA',
    observations: c.values.map((v) => ({
      code: serialRefOf(v.code),
      value: Number.isNaN(v.value) ? null : v.value,
      unit: v.unit,
      quality: qualityToNames(v.quality),
      ...(Number.isNaN(v.timeMs) ? {} : { deviceTimeMs: v.timeMs }),
      ...(v.subId ? { subId: v.subId } : {}),
    })),
    skipped: c.skipped,
  }
}

/**
 * `bedside-hub decode hl7 HEX`: exactly one MLLP frame. Throws DecodeError (`no-start-block`,
 * `truncated`, `bad-end-block`, `missing-msh`, `bad-msh`, `bad-escape`, ...) for the CLI's exit 2.
 */
export function decodeHl7Frame(frame: Buffer): object {
  if (frame[0] !== 0x0b) throw new DecodeError('hl7', 'no-start-block', 'frame does not start with 0x0B')
  const bodies: Buffer[] = []
  let error: DecodeError | undefined
  const d = new MllpDeframer({ message: (b) => bodies.push(Buffer.from(b)), reject: (e) => (error ??= e) })
  d.push(frame)
  if (error) throw error
  if (d.midFrame || bodies.length === 0) throw new DecodeError('hl7', 'truncated', 'frame does not end with 1C 0D')
  if (bodies.length > 1) throw new DecodeError('hl7', 'trailing-bytes', 'more than one MLLP frame in the input')
  const out = processMessage(bodies[0]!)
  if (out.ack !== 'AA') throw out.error
  return contentToJson(out.content)
}
