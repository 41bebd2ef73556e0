/**
 * Side-effect module: registers every protocol's one-payload decoder in `payloadDecoders`.
 * Kept apart from decoders.ts so that protocol folders can be added without touching the registry type.
 */
import './ble/register.js'
import './serial/register.js'
export {}
