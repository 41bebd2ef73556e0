/**
 * The default adult rule set. Every limit names its source in `source`.
 *
 * Sources and how sure we are:
 * - [NEWS2] RCP 2017 NEWS2 Chart 1 band edges, protocols.md §9 ([S-NEWS-CHART], [S-NEWS-RCP]):
 *   verified there. Used where a limit coincides with a band edge.
 * - [PHILIPS-IFU] Philips IntelliVue MP/MX patient monitor IFU, "default alarm limits, adult":
 *   HR/Pulse 50–120 /min, extreme brady 40, extreme tachy high + 20 = 140, SpO2 low 90,
 *   desat 80, Resp 8–30 /min, apnea 20 s, NBP systolic 90–160 mmHg, Temp 36.0–39.0 °C.
 *   UNVERIFIED: quoted from memory of the IFU, which could not be opened from this sandbox;
 *   check against the ward's monitor IFU before clinical use.
 * - [IEC-8] IEC 60601-1-8 as restated in protocols.md §10 ([S-LUCAS], [S-DRAGER-LATCH]):
 *   latching high-priority alarms, technical alarms while the cause exists.
 * - [LOCAL] a local design choice with no published default; says so.
 * Condition delays of 10 s follow the issue's own examples ("SpO2 < 90 % for 10 s").
 */
import type { RuleDef } from './config.js'

const HR = 'MDC_ECG_HEART_RATE'
const PR = 'MDC_PULS_OXIM_PULS_RATE'
const SPO2 = 'MDC_PULS_OXIM_SAT_O2'
const RR = 'MDC_RESP_RATE'
const SBP = 'MDC_PRESS_BLD_NONINV_SYS'
const TEMP = 'MDC_TEMP_BODY'

const physio = { latching: 'high', cooldown_s: 300 } as const
const threshold = { ...physio, kind: 'threshold', hysteresis: 0, hold_s: 30 } as const

const thresholds: RuleDef[] = [
  { ...threshold, id: 'hr-high', code: HR, op: '>', limit: 120, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 140, priority: 'high' },
    source: '[PHILIPS-IFU] HR high 120, extreme tachy 140 (UNVERIFIED); NEWS2 ≥131 scores 3 [NEWS2]' },
  { ...threshold, id: 'hr-low', code: HR, op: '<', limit: 50, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 41, priority: 'high' },
    source: '[PHILIPS-IFU] HR low 50, extreme brady 40 (UNVERIFIED); NEWS2 ≤40 scores 3 [NEWS2]' },
  { ...threshold, id: 'pr-high', code: PR, op: '>', limit: 120, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 140, priority: 'high' }, source: '[PHILIPS-IFU] Pulse high 120 (UNVERIFIED)' },
  { ...threshold, id: 'pr-low', code: PR, op: '<', limit: 50, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 41, priority: 'high' }, source: '[PHILIPS-IFU] Pulse low 50 (UNVERIFIED); NEWS2 ≤40 scores 3 [NEWS2]' },
  { ...threshold, id: 'spo2-low', code: SPO2, op: '<', limit: 90, delay_s: 10, hysteresis: 2, priority: 'medium',
    escalate: { limit: 80, priority: 'high' },
    source: '[PHILIPS-IFU] SpO2 low 90, desat 80 (UNVERIFIED); NEWS2 scale 1 ≤91 scores 3 [NEWS2]' },
  { ...threshold, id: 'rr-high', code: RR, op: '>', limit: 30, delay_s: 30, hysteresis: 2, priority: 'medium',
    source: '[PHILIPS-IFU] Resp high 30 (UNVERIFIED); NEWS2 ≥25 scores 3 [NEWS2]; delay [LOCAL]' },
  { ...threshold, id: 'rr-low', code: RR, op: '<=', limit: 8, delay_s: 20, hysteresis: 2, priority: 'medium',
    escalate: { limit: 4, priority: 'high' },
    source: 'NEWS2 ≤8 scores 3 [NEWS2]; [PHILIPS-IFU] Resp low 8, apnea 20 s (UNVERIFIED); escalation at 4 [LOCAL]' },
  // NIBP is a spot measurement every few minutes: each reading is the whole episode, no delay.
  { ...threshold, id: 'sbp-low', code: SBP, op: '<=', limit: 90, delay_s: 0, hysteresis: 5, priority: 'medium',
    escalate: { limit: 70, priority: 'high' },
    source: 'NEWS2 ≤90 scores 3 [NEWS2]; [PHILIPS-IFU] NBP sys low 90 (UNVERIFIED); escalation at 70 [LOCAL]' },
  { ...threshold, id: 'sbp-high', code: SBP, op: '>', limit: 160, delay_s: 0, hysteresis: 5, priority: 'low',
    escalate: { limit: 219, priority: 'medium' },
    source: '[PHILIPS-IFU] NBP sys high 160 (UNVERIFIED); NEWS2 ≥220 scores 3 [NEWS2]' },
  { ...threshold, id: 'temp-high', code: TEMP, op: '>', limit: 39.0, delay_s: 0, hysteresis: 0.2, priority: 'low',
    source: 'NEWS2 ≥39.1 scores 2 [NEWS2]; [PHILIPS-IFU] Temp high 39.0 (UNVERIFIED)' },
  { ...threshold, id: 'temp-low', code: TEMP, op: '<=', limit: 35.0, delay_s: 0, hysteresis: 0.2, priority: 'medium',
    source: 'NEWS2 ≤35.0 scores 3 [NEWS2]' },
]

const aggregates: RuleDef[] = [
  { ...physio, kind: 'window', id: 'hr-avg-high', code: HR, window: 'sliding', window_s: 60, aggregate: 'avg',
    op: '>', limit: 110, min_samples: 5, max_samples: 128, priority: 'low',
    source: 'NEWS2 pulse 111–130 scores 2 [NEWS2]; 60 s average, 5 samples [LOCAL] (DESIGN.md example)' },
  { ...physio, kind: 'window', id: 'spo2-dips', code: SPO2, window: 'sliding', window_s: 120, aggregate: 'count',
    excursion: { op: '<', limit: 90 }, op: '>=', limit: 3, min_samples: 1, max_samples: 128, priority: 'low',
    source: 'SpO2 low 90 [PHILIPS-IFU] (UNVERIFIED); 3 dips in 120 s [LOCAL]' },
  { ...physio, kind: 'trend', id: 'hr-rise', code: HR, direction: 'up', change: 30, baseline_s: 1800, recent_s: 60,
    warmup_s: 300, min_samples: 10, priority: 'low', source: '+30 /min over the 30 min baseline [LOCAL], no published default' },
  { ...physio, kind: 'trend', id: 'spo2-fall', code: SPO2, direction: 'down', change: 4, baseline_s: 1800, recent_s: 60,
    warmup_s: 300, min_samples: 10, priority: 'low', source: '−4 % under the 30 min baseline [LOCAL], no published default' },
  { ...physio, kind: 'news2', id: 'news2', priority: 'medium', max_age_s: 3600, context_max_age_s: 43200, red_priority: 'low',
    source: 'RCP NEWS2 Chart 2: ≥7 high, 5–6 medium, single 3 low–medium [NEWS2]; input ages [LOCAL]' },
]

const technical = { kind: 'technical', latching: 'never', cooldown_s: 60, delay_s: 0, timeout_s: 30 } as const
const technicals: RuleDef[] = [
  { ...technical, id: 'tech-disconnected', condition: 'disconnected', delay_s: 10, priority: 'medium',
    source: 'technical alarm while the cause exists [IEC-8]; priority and 10 s delay [LOCAL]' },
  { ...technical, id: 'tech-no-data', condition: 'no-data', timeout_s: 30, priority: 'medium',
    source: 'loss of monitoring is a technical condition [IEC-8]; 30 s [LOCAL]' },
  { ...technical, id: 'tech-leads-off', condition: 'leads-off', delay_s: 5, priority: 'medium', source: '[IEC-8]; 5 s delay [LOCAL]' },
  { ...technical, id: 'tech-sensor-off', condition: 'sensor-off', delay_s: 5, priority: 'medium', source: '[IEC-8]; 5 s delay [LOCAL]' },
  { ...technical, id: 'tech-low-battery', condition: 'low-battery', priority: 'low', source: '[IEC-8]; low priority [LOCAL]' },
  { ...technical, id: 'tech-clock-drift', condition: 'clock-drift', priority: 'low', source: 'DESIGN.md: drifting device flagged [LOCAL]' },
  { ...technical, id: 'tech-queue-over-quota', condition: 'queue-over-quota', priority: 'medium',
    source: 'DESIGN.md delivery semantics: quota raises a technical alarm; priority [LOCAL]' },
]

/** The default adult rules, complete and validated by the schema tests. */
export const DEFAULT_RULE_DEFS: readonly RuleDef[] = Object.freeze([...thresholds, ...aggregates, ...technicals])
