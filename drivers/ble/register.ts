/**
 * Registers the BLE one-payload decoders for `bedside-hub decode PROTOCOL HEX` (DESIGN.md, CLI).
 * Imported once from drivers/register.ts.
 */
import { payloadDecoders } from '../decoders.js'
import { heartRateJson } from './hrs.js'
import { temperatureJson } from './hts.js'
import { ecgFrameJson } from './pmd/ecg-frame.js'
import { plxContinuousJson, plxSpotCheckJson } from './plx.js'

payloadDecoders['hrs'] = heartRateJson
payloadDecoders['plx-cont'] = plxContinuousJson
payloadDecoders['plx-spot'] = plxSpotCheckJson
payloadDecoders['hts'] = temperatureJson
payloadDecoders['pmd-ecg'] = ecgFrameJson
