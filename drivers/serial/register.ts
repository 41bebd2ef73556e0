/**
 * Side-effect module: registers the serial protocols' one-payload decoders for
 * `bedside-hub decode datex HEX` and `bedside-hub decode hl7 HEX` (DESIGN.md, CLI).
 */
import { payloadDecoders } from '../decoders.js'
import { decodeDatexFrame } from './datex/record.js'
import { decodeHl7Frame } from './hl7/decode.js'

payloadDecoders.datex = decodeDatexFrame
payloadDecoders.hl7 = decodeHl7Frame
