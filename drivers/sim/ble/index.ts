/** Simulated BLE radio and devices (demo ward, tests). See polar-h10.ts and sensors.ts for usage. */
export { SimRadio, SimPeripheral, SimCharacteristic } from './sim-radio.js'
export { SimPolarH10, H10_SAMPLES_PER_FRAME } from './polar-h10.js'
export { SimHrsSensor, SimPlxSensor, SimHtsSensor } from './sensors.js'
export { EcgSynth, pqrstUv, type SynthRhythm } from './ecg-synth.js'
export * from './encode.js'
export { createSimBleWard, type SimBedSpec, type SimBleWard } from './ward.js'
