/**
 * The behaviour table: records in → alarm changes out, one case per behaviour the issue names.
 * Times are seconds of device time (= hub time unless `offsetS`); see script.ts for the step forms.
 */
import { Quality } from '../../drivers/records.js'
import { series, values, type Case, type Step } from './script.js'

const HR = 'MDC_ECG_HEART_RATE'
const SPO2 = 'MDC_PULS_OXIM_SAT_O2'
const RR = 'MDC_RESP_RATE'
const SBP = 'MDC_PRESS_BLD_NONINV_SYS'
const TEMP = 'MDC_TEMP_BODY'
const PR = 'MDC_PULS_OXIM_PULS_RATE'

const hrHigh = (extra: Record<string, unknown> = {}) => ({
  id: 'hr-high', kind: 'threshold', code: HR, op: '>', limit: 120, delay_s: 10, hysteresis: 5, priority: 'medium', latching: 'never', ...extra,
})
const spo2Low = (extra: Record<string, unknown> = {}) => ({
  id: 'spo2-low', kind: 'threshold', code: SPO2, op: '<', limit: 90, delay_s: 10, hysteresis: 2, priority: 'medium',
  escalate: { limit: 80, priority: 'high' }, ...extra,
})
const tech = (condition: string, extra: Record<string, unknown> = {}) => ({
  id: `tech-${condition}`, kind: 'technical', condition, priority: 'medium', latching: 'never', cooldown_s: 60, ...extra,
})
const alternate = (a: number, b: number, n: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b))
const stable = (seconds: number): Step[] => {
  const out: Step[] = []
  for (let t = 0; t < seconds; t++) {
    out.push(['obs', HR, 75, t], ['obs', PR, 74, t], ['obs', SPO2, 98, t], ['obs', RR, 16, t], ['tick', t + 0.5])
    if (t % 300 === 0) out.push(['obs', SBP, 125, t], ['obs', TEMP, 36.8, t])
  }
  return out
}

export const CASES: readonly Case[] = [
  // ── threshold with condition delay and hysteresis ──
  { name: 'threshold: fires from observe as soon as the delay is fulfilled on device time',
    rules: { set: [hrHigh()] }, steps: series(HR, 130, 0, 15), expect: ['hr-high raised medium @10'] },
  { name: 'threshold: a normal value inside the delay restarts it',
    rules: { set: [hrHigh()] }, steps: [...series(HR, 130, 0, 5), ['obs', HR, 100, 5], ...series(HR, 130, 6, 11)],
    expect: ['hr-high raised medium @16'] },
  { name: 'threshold: hysteresis keeps the alarm until the value is back past limit − hysteresis',
    rules: { set: [hrHigh()] }, steps: [...series(HR, 130, 0, 11), ...values(HR, [118, 116, 115], 11)],
    expect: ['hr-high raised medium @10', 'hr-high cleared medium @13'] },
  { name: 'threshold: a delay that elapses between sparse samples fires on tick',
    rules: { set: [spo2Low()] }, steps: [['obs', SPO2, 85, 0], ['tick', 5], ['tick', 9.75], ['tick', 10]],
    expect: ['spo2-low raised medium @10'] },
  { name: 'threshold: one sample stands for the patient only for hold_s',
    rules: { set: [spo2Low({ hold_s: 5 })] }, steps: [['obs', SPO2, 85, 0], ['tick', 10], ['tick', 20]], expect: [] },
  // ── escalation, acknowledgement, latching ──
  { name: 'escalation: a medium SpO2 alarm becomes high below the desaturation limit at once, then latches',
    rules: { set: [spo2Low()] },
    steps: [...series(SPO2, 88, 0, 11), ['obs', SPO2, 78, 11], ['obs', SPO2, 79, 12], ['obs', SPO2, 97, 13], ['tick', 15], ['ack', 'spo2-low', 'nurse-a', 20]],
    expect: ['spo2-low raised medium @10', 'spo2-low escalated high @11', 'spo2-low cleared high @20'] },
  { name: 'acknowledgement: silences the condition; a worse condition escalates again',
    rules: { set: [spo2Low({ latching: 'never' })] },
    steps: [...series(SPO2, 88, 0, 11), ['ack', 'spo2-low', 'nurse-a', 11], ['obs', SPO2, 88, 12], ['obs', SPO2, 78, 13], ['obs', SPO2, 97, 14]],
    expect: ['spo2-low raised medium @10', 'spo2-low acknowledged medium @11', 'spo2-low escalated high @13', 'spo2-low cleared high @14'] },
  { name: 'latching: an always-latching alarm stays after its condition ends until acknowledged',
    rules: { set: [hrHigh({ latching: 'always' })] },
    steps: [...series(HR, 130, 0, 11), ...series(HR, 100, 11, 3), ['tick', 14], ['ack', 'hr-high', 'nurse-b', 15]],
    expect: ['hr-high raised medium @10', 'hr-high cleared medium @15'] },
  { name: 'latching: acknowledged while still true, it clears when the condition ends',
    rules: { set: [hrHigh({ latching: 'always' })] },
    steps: [...series(HR, 130, 0, 11), ['ack', 'hr-high', 'nurse-b', 11], ['obs', HR, 130, 12], ['obs', HR, 100, 13]],
    expect: ['hr-high raised medium @10', 'hr-high acknowledged medium @11', 'hr-high cleared medium @13'] },
  { name: 'latching: mode "high" does not latch a medium alarm',
    rules: { set: [spo2Low({ latching: 'high' })] }, steps: [...series(SPO2, 88, 0, 11), ['obs', SPO2, 95, 11]],
    expect: ['spo2-low raised medium @10', 'spo2-low cleared medium @11'] },
  // ── one alarm per episode: flapping, cooldown, storms ──
  { name: 'cooldown: a flapping condition raises once within the cooldown',
    rules: { set: [hrHigh({ delay_s: 0, hysteresis: 0 })] }, steps: values(HR, alternate(130, 100, 60)),
    expect: ['hr-high raised medium @0', 'hr-high cleared medium @1'] },
  { name: 'cooldown expiry: a condition still true when the cooldown ends raises a new alarm then (observe)',
    rules: { set: [hrHigh({ delay_s: 0, cooldown_s: 60 })] }, steps: [['obs', HR, 130, 0], ['obs', HR, 100, 1], ...series(HR, 130, 2, 70)],
    expect: ['hr-high raised medium @0', 'hr-high cleared medium @1', 'hr-high raised medium @61'] },
  { name: 'cooldown expiry: a held-back condition raises on the tick that ends the cooldown (counted from the clear)',
    rules: { set: [hrHigh({ delay_s: 0, cooldown_s: 60 })] },
    steps: [['obs', HR, 130, 0], ['obs', HR, 100, 1], ['obs', HR, 130, 2], ['tick', 30], ['tick', 60.75], ['tick', 61]],
    expect: ['hr-high raised medium @0', 'hr-high cleared medium @1', 'hr-high raised medium @61'] },
  { name: 'cooldown: counted from the end of a long episode, so a value hovering at the limit does not re-alarm',
    rules: { set: [hrHigh({ delay_s: 0, hysteresis: 0, cooldown_s: 60 })] },
    steps: [...series(HR, 130, 0, 100), ...values(HR, alternate(100, 130, 30), 100)],
    expect: ['hr-high raised medium @0', 'hr-high cleared medium @100'] },
  { name: 'cooldown expiry: a new episode after the cooldown is a new alarm',
    rules: { set: [hrHigh({ delay_s: 0, cooldown_s: 60 })] }, steps: [['obs', HR, 130, 0], ...series(HR, 100, 1, 99), ['obs', HR, 130, 100]],
    expect: ['hr-high raised medium @0', 'hr-high cleared medium @1', 'hr-high raised medium @100'] },
  { name: 'cooldown: an escalation within the cooldown raises at once',
    rules: { set: [spo2Low({ delay_s: 0, latching: 'never' })] }, steps: values(SPO2, [88, 95, 88, 78]),
    expect: ['spo2-low raised medium @0', 'spo2-low cleared medium @1', 'spo2-low raised high @3'] },
  { name: 'storm: 200 identical tachycardic readings in 60 s make one alarm',
    rules: { defaults: true }, only: ['hr-high'], steps: series(HR, 185, 0, 200, 0.3), expect: ['hr-high raised high @10.2'] },
  { name: 'stable patient: the default set raises nothing in 10 min',
    rules: { defaults: true }, steps: stable(600), expect: [] },
  // ── late and out-of-order data ──
  { name: 'late data: records older than the watermark are ignored',
    rules: { set: [hrHigh()] }, watermarkMs: 10_000, steps: [['obs', HR, 100, 100], ...series(HR, 130, 80, 10)], expect: [] },
  { name: 'out-of-order: samples within the watermark count in device-time order',
    rules: { set: [hrHigh()] }, steps: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9].map((t) => ['obs', HR, 130, t] as Step),
    expect: ['hr-high raised medium @10'] },
  { name: 'out-of-order: a late normal value inside the run restarts the delay',
    rules: { set: [hrHigh()] }, steps: [...series(HR, 130, 0, 9), ['obs', HR, 100, 5], ...series(HR, 130, 9, 10)],
    expect: ['hr-high raised medium @18'] },
  { name: 'out-of-order: a late violating value already followed by a normal one does not count',
    rules: { set: [hrHigh()] }, steps: [['obs', HR, 100, 10], ['obs', HR, 130, 5], ...series(HR, 130, 11, 11)],
    expect: ['hr-high raised medium @21'] },
  // ── quality ──
  { name: 'quality: flagged values never fulfil a physiological condition',
    rules: { set: [hrHigh()] }, steps: Array.from({ length: 30 }, (_, t) => ['obsq', HR, 185, t, Quality.QUESTIONABLE] as Step), expect: [] },
  { name: 'quality: leads-off flags drive the leads-off technical alarm; a valid value clears it',
    rules: { set: [hrHigh(), tech('leads-off', { delay_s: 5 })] },
    steps: [...Array.from({ length: 7 }, (_, t) => ['obsq', HR, Number.NaN, t, Quality.LEADS_OFF] as Step), ['obs', HR, 80, 7]],
    expect: ['tech-leads-off raised medium @5', 'tech-leads-off cleared medium @7'] },
  { name: 'quality: a valid value clears only flag-raised leads-off, not leads-off reported by the agent',
    rules: { set: [tech('leads-off')] },
    steps: [['tech', 'leads-off', true, 0], ['obs', HR, 80, 1], ['tick', 2], ['tech', 'leads-off', false, 3]],
    expect: ['tech-leads-off raised medium @0', 'tech-leads-off cleared medium @3'] },
  // ── windowed aggregates ──
  { name: 'window: sliding average needs min_samples before it decides',
    rules: { set: [{ id: 'hr-avg', kind: 'window', code: HR, window: 'sliding', window_s: 60, aggregate: 'avg', op: '>', limit: 110, min_samples: 5, priority: 'low' }] },
    steps: values(HR, [100, 130, 130, 130, 130, 130]), expect: ['hr-avg raised low @4'] },
  { name: 'window: sliding average clears when old samples leave the window',
    rules: { set: [{ id: 'hr-avg', kind: 'window', code: HR, window: 'sliding', window_s: 10, aggregate: 'avg', op: '>', limit: 110, min_samples: 2, priority: 'low', latching: 'never' }] },
    steps: [...series(HR, 130, 0, 5), ...series(HR, 90, 5, 10)], expect: ['hr-avg raised low @1', 'hr-avg cleared low @9'] },
  { name: 'window: count of excursions ("3 dips in 60 s") counts entries, not samples',
    rules: { set: [{ id: 'dips', kind: 'window', code: SPO2, window: 'sliding', window_s: 60, aggregate: 'count', excursion: { op: '<', limit: 90 }, op: '>=', limit: 3, priority: 'low' }] },
    steps: values(SPO2, [97, 88, 88, 97, 88, 97, 97, 88]), expect: ['dips raised low @7'] },
  { name: 'window: a tumbling window decides when the watermark passes its end (observe)',
    rules: { set: [{ id: 'hr-avg-t', kind: 'window', code: HR, window: 'tumbling', window_s: 60, aggregate: 'avg', op: '>', limit: 110, min_samples: 5, priority: 'low' }] },
    steps: [...series(HR, 130, 0, 60), ['obs', HR, 130, 69], ['obs', HR, 130, 70]], expect: ['hr-avg-t raised low @70'] },
  { name: 'window: a tumbling window closes on tick without new data, and counts late samples within the watermark',
    rules: { set: [{ id: 'hr-max-t', kind: 'window', code: HR, window: 'tumbling', window_s: 60, aggregate: 'max', op: '>', limit: 150, priority: 'low' }] },
    steps: [...series(HR, 100, 0, 60), ['obs', HR, 160, 50], ['tick', 69], ['tick', 70]], expect: ['hr-max-t raised low @70'] },
  { name: 'window: a late sample lands in the still-open older tumbling window while the next one fills',
    rules: { set: [{ id: 'hr-max-t', kind: 'window', code: HR, window: 'tumbling', window_s: 10, aggregate: 'max', op: '>', limit: 150, priority: 'low', latching: 'never' }] },
    steps: [...series(HR, 100, 0, 16), ['obs', HR, 160, 8], ['obs', HR, 100, 19], ['obs', HR, 100, 20], ['obs', HR, 100, 30]],
    expect: ['hr-max-t raised low @20', 'hr-max-t cleared low @30'] },
  { name: 'window: a sample for a tumbling window already decided is ignored',
    rules: { set: [{ id: 'hr-max-t', kind: 'window', code: HR, window: 'tumbling', window_s: 10, aggregate: 'max', op: '>', limit: 150, priority: 'low' }] },
    watermarkMs: 30_000,
    steps: [...series(HR, 100, 0, 10), ['tick', 40], ['obs', HR, 160, 5], ['tick', 50]], expect: [] },
  { name: 'window: tumbling count of excursions decides per window',
    rules: { set: [{ id: 'dips-t', kind: 'window', code: SPO2, window: 'tumbling', window_s: 60, aggregate: 'count', excursion: { op: '<', limit: 90 }, op: '>=', limit: 3, priority: 'low' }] },
    steps: [...values(SPO2, [97, 88, 97, 88, 97, 88]), ['tick', 69], ['tick', 70]], expect: ['dips-t raised low @70'] },
  // ── trend against the patient's own baseline ──
  // After a step 70 → 110 at t = 600: recent − baseline = 40·(e^(−k/1800) − e^(−k/60)) reaches 30 at the 98th sample of 110, t = 697 s.
  { name: 'trend: a sustained rise against the baseline raises once; a stable baseline raises nothing',
    rules: { set: [{ id: 'hr-rise', kind: 'trend', code: HR, direction: 'up', change: 30, priority: 'low' }] },
    steps: [...series(HR, 70, 0, 600), ...series(HR, 110, 600, 300)], expect: ['hr-rise raised low @697'] },
  // ── NEWS2 ──
  { name: 'news2: the aggregate raises medium at 5 and escalates to high at 7 (new confusion)',
    rules: { set: [{ id: 'news2', kind: 'news2' }] },
    steps: [['ctx', { consciousness: 'A', onOxygen: false }, 0], ['obs', RR, 22, 1], ['obs', SPO2, 95, 2], ['obs', SBP, 105, 3], ['obs', HR, 95, 4],
      ['obs', TEMP, 38.4, 5], ['ctx', { consciousness: 'C' }, 6], ['ctx', { consciousness: 'A' }, 7]],
    // RCP Chart 2: the aggregate of 2 (RR 22) is "low" (ward-based response), 5 medium, 7 high.
    expect: ['news2 raised low @1', 'news2 escalated medium @4', 'news2 escalated high @6'] },
  { name: 'news2: an input older than max_age_s stops counting',
    rules: { set: [{ id: 'news2', kind: 'news2', max_age_s: 60, latching: 'never' }] }, steps: [['obs', RR, 30, 0], ['tick', 60], ['tick', 61]],
    // RR 30 alone scores 3: a single red parameter, "urgent ward-based response" → medium.
    expect: ['news2 raised medium @0', 'news2 cleared medium @61'] },
  // ── technical conditions ──
  { name: 'technical: disconnected raises after its delay and clears when the link is back',
    rules: { set: [tech('disconnected', { delay_s: 10 })] }, steps: [['tech', 'disconnected', true, 0], ['tick', 5], ['tick', 10], ['tech', 'disconnected', false, 20]],
    expect: ['tech-disconnected raised medium @10', 'tech-disconnected cleared medium @20'] },
  { name: 'technical: no data for N s raises on tick and clears with the next record',
    rules: { set: [tech('no-data', { timeout_s: 30 })] }, steps: [['obs', HR, 80, 0], ['tick', 29], ['tick', 30], ['tick', 31], ['obs', HR, 80, 32]],
    expect: ['tech-no-data raised medium @30', 'tech-no-data cleared medium @32'] },
  { name: 'technical: absent or impossible values are no data (the no-data alarm raises and stays); a valid one clears it',
    rules: { set: [tech('no-data', { timeout_s: 30 })] },
    steps: [['obs', HR, 80, 0], ...Array.from({ length: 40 }, (_, i) => [['obsq', HR, i % 2 ? Number.NaN : 400, i + 1, i % 2 ? Quality.UNAVAILABLE : Quality.OUT_OF_RANGE], ['tick', i + 1]] as Step[]).flat(), ['obs', HR, 80, 42]],
    expect: ['tech-no-data raised medium @30', 'tech-no-data cleared medium @42'] },
  { name: 'technical: a bed whose first records (since the agent started) are all absent or impossible raises no data',
    rules: { set: [tech('no-data', { timeout_s: 30 })] },
    steps: [...Array.from({ length: 40 }, (_, i) => [['obsq', HR, Number.NaN, i, Quality.UNAVAILABLE], ['tick', i]] as Step[]).flat(), ['obs', HR, 80, 41]],
    expect: ['tech-no-data raised medium @30', 'tech-no-data cleared medium @41'] },
  { name: 'technical: questionable or calibrating values are data (noise and zeroing have their own alarms)',
    rules: { set: [tech('no-data', { timeout_s: 30 })] },
    steps: [['obs', HR, 80, 0], ...Array.from({ length: 40 }, (_, i) => [['obsq', HR, 80, i + 1, i % 2 ? Quality.QUESTIONABLE : Quality.CALIBRATING], ['tick', i + 1]] as Step[]).flat()],
    expect: [] },
  { name: 'technical: leads off is its own alarm, not no data',
    rules: { set: [tech('no-data', { timeout_s: 30 }), tech('leads-off')] },
    steps: [['obs', HR, 80, 0], ...Array.from({ length: 40 }, (_, i) => [['obsq', HR, Number.NaN, i + 1, Quality.LEADS_OFF], ['tick', i + 1]] as Step[]).flat()],
    expect: ['tech-leads-off raised medium @1'] },
  { name: 'technical: a flapping link raises once per cooldown; still down at expiry raises again',
    rules: { set: [tech('disconnected')] },
    steps: [...Array.from({ length: 10 }, (_, i) => ['tech', 'disconnected', i % 2 === 0, i] as Step), ['tech', 'disconnected', true, 10], ['tick', 60], ['tick', 61]],
    expect: ['tech-disconnected raised medium @0', 'tech-disconnected cleared medium @1', 'tech-disconnected raised medium @61'] },
  { name: 'technical: low battery, clock drift and queue over quota follow their inputs',
    rules: { set: [tech('low-battery', { priority: 'low' }), tech('clock-drift', { priority: 'low' }), tech('queue-over-quota')] },
    steps: [['tech', 'low-battery', true, 0], ['tech', 'clock-drift', true, 1], ['tech', 'queue-over-quota', true, 2], ['tech', 'low-battery', false, 3]],
    expect: ['tech-low-battery raised low @0', 'tech-clock-drift raised low @1', 'tech-queue-over-quota raised medium @2', 'tech-low-battery cleared low @3'] },
  // ── the lead's contract check ──
  { name: 'contract: HR 185 once per second for 31 s, 40 s in the past, raises from observe',
    rules: { defaults: true }, only: ['hr-high'], offsetS: 40, steps: series(HR, 185, 5, 31), expect: ['hr-high raised high @15'] },
]
