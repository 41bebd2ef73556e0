/**
 * Side-effect module: registers the serial protocols' one-payload decoders for
 * `bedside-hub decode datex HEX` and `bedside-hub decode hl7 HEX` (DESIGN.md, CLI).
 */
import { payloadDecoders } from '../decoders.js'
import { decodeDatexFrame } from './datex/record.js'

payloadDecoders.datex = decodeDatexFrame
