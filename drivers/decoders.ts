/**
 * Registry of one-payload decoders for `bedside-hub decode PROTOCOL HEX` (DESIGN.md, CLI).
 * Each entry decodes exactly one device payload into a JSON-ready object whose observations carry
 * MDC reference ids and UCUM units, and throws DecodeError on malformed input.
 *
 * Add a protocol by adding one line here; the decoder itself lives beside its driver.
 */
export type PayloadDecoder = (payload: Buffer) => object

export const payloadDecoders: Record<string, PayloadDecoder> = {}
