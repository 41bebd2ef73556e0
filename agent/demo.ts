/**
 * The demo ward: the embedded configuration `bedside-hub run` uses without --config.
 * Eight beds of simulated devices, one patient drifting into tachycardia so an alarm fires.
 * No external service: cloud sync is off, everything stays on loopback.
 */
import type { Config } from './config.js'

const scenarios = ['stable', 'stable', 'tachycardia', 'stable', 'desaturation', 'stable', 'fever', 'stable'] as const

export function demoConfigDocument(dataDir: string): Record<string, unknown> {
  return {
    hub: { id: 'demo-ward', site: 'demo-hospital', data_dir: dataDir },
    http: { listen: '127.0.0.1:8080', tokens: [{ token: 'demo-nurse-token', role: 'nurse', name: 'demo-nurse' }] },
    mqtt: { listen: '127.0.0.1:1883' },
    beds: scenarios.map((scenario, i) => {
      const n = String(i + 1).padStart(2, '0')
      return { id: `demo-${n}`, devices: [{ id: `sim-${n}`, type: 'sim', scenario }] }
    }),
  } satisfies Partial<Record<keyof Config, unknown>>
}
