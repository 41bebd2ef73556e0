/**
 * The default adult rule set. Every limit names its source in `source`.
 *
 * Sources (manufacturer IFUs read through the project's page search; page addresses below):
 * - [NEWS2] RCP 2017 NEWS2 Chart 1 band edges, protocols.md §9 ([S-NEWS-CHART], [S-NEWS-RCP]).
 * - [EDAN-M3A] Edan M3A Vital Signs Monitor User Manual §9.5, p. 53: adult defaults SpO2 low 90 %,
 *   PR 50–120 /min, priority medium.
 *   http://38.142.81.21:8001/manual/edan/m3a-nst-c/product-manual-english/page-60.html
 * - [MINDRAY-TM80] Mindray TM80/TM70 Telemetry Monitor Operator's Manual 12-5, factory defaults:
 *   SpO2 low 90 % (Med/High), SpO2 Desat 80 % (High), NIBP-S 90–160 mmHg.
 *   http://38.142.81.21:8001/manual/mindray/wmtstm70/operator-s-manual-english/page-64.html
 * - [MINDRAY-TMS60] Mindray TMS60 Operator's Manual 9-4: adult PR 50–120 /min, SpO2 Desat 80 %.
 *   http://38.142.81.21:8001/manual/shenzhen-mindray-bio-medical-electronics/td608fe/user-s-manual-english/page-94.html
 * - [DRAGER-APOLLO] Dräger Apollo Operator's Manual p. 155: pulse factory default 50–120 bpm.
 *   https://www.easymanua.ls/drager/apollo/manual/21547?p=163
 * - [PHILIPS-VS30] Philips EarlyVue VS30 IFU 5-9: the SpO2 Desat alarm is high priority, fixed at
 *   10 below the low limit for adults; alarm delay example 10 s.
 *   https://www.easymanua.ls/philips/earlyvue-vs30/manual?p=129
 * - [LIFEPAK-15] Physio-Control LIFEPAK 15 Operating Instructions Table A-3, default limits:
 *   RR 5–30 /min, temperature 35–39 °C.
 *   http://38.142.81.21:8001/manual/physio-control/lifepak-15/manual-english/page-248.html
 * - [SPACELABS] Spacelabs Ultraview capnography: apnea default 20 s, RR high 30.
 *   http://38.142.81.21:8001/manual/spacelabs-healthcare/76a90341-wmts/user-s-manual-english/page-37.html
 * - [IEC-8] IEC 60601-1-8 as restated in protocols.md §10 ([S-LUCAS], [S-DRAGER-LATCH]).
 * - [PHILIPS-MP5] Philips IntelliVue MP5 IFU, ECG alarms: Extreme Tachy/Brady are set by adding a Δ
 *   to the HR high/low limits; with arrhythmia analysis off, asystole, VF/VT and the extreme rates
 *   are still detected. https://www.easymanua.ls/philips/intellivue-mp5/manual?p=123
 * - [PHILIPS-ARRH] Philips IntelliVue configuration guide, Arrhythmia Alarms: V-Tach = run ≥ 5 and
 *   HR ≥ 100. https://www.manualslib.com/manual/1424773/Philips-Intellivue-Mx800-Intellivue-Mp2.html?page=43
 * - [MINDRAY-EPM] Mindray ePM arrhythmia thresholds: Asystole Delay 3–10 s, V-Tach rate and PVCs
 *   settable, "AF/Irr Rhy End Time". https://www.easymanua.ls/mindray/epm-12mc/manual?p=102
 * - [SPACELABS-ARRH] Spacelabs Ultraview Arrhythmia 9-7: asystole = absence of QRS ≥ 5 s; premature =
 *   15 % earlier than the average RR.
 *   http://38.142.81.21:8001/manual/spacelabs-healthcare/76a90341-wmts/2-1-user-s-manual-english/page-7.html
 * - [MINDRAY-UMEC] Mindray uMEC10 Operator's Manual A-8: time to alarm for the tachycardia waveforms
 *   of IEC 60601-2-27 201.7.9.2.9.101 b) 6) < 11 s. https://www.easymanua.ls/mindray/umec10/manual?p=232
 * - [LOCAL] a local design choice with no published default found; says so. UNVERIFIED.
 * ECG heart-rate defaults: the IFUs above give HR and PR the same limits (PR 50–120 in three of
 * them); no ECG-only HR default table was read, so hr-high/hr-low rest on the PR defaults.
 * Condition delays of 10 s follow the examples and [PHILIPS-VS30]'s delay example.
 * These defaults are a starting point: each ward must review them against its monitors' IFUs.
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
    source: 'HR/PR high 120 [EDAN-M3A] [MINDRAY-TMS60] [DRAGER-APOLLO]; escalation at 140 (high + 20) [LOCAL]; NEWS2 ≥131 scores 3 [NEWS2]' },
  { ...threshold, id: 'hr-low', code: HR, op: '<', limit: 50, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 41, priority: 'high' },
    source: 'HR/PR low 50 [EDAN-M3A] [MINDRAY-TMS60] [DRAGER-APOLLO]; escalation at ≤40 = NEWS2 pulse 3 [NEWS2]' },
  { ...threshold, id: 'pr-high', code: PR, op: '>', limit: 120, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 140, priority: 'high' }, source: 'PR high 120 [EDAN-M3A] [MINDRAY-TMS60] [DRAGER-APOLLO]; escalation at 140 [LOCAL]' },
  { ...threshold, id: 'pr-low', code: PR, op: '<', limit: 50, delay_s: 10, hysteresis: 5, priority: 'medium',
    escalate: { limit: 41, priority: 'high' }, source: 'PR low 50 [EDAN-M3A] [MINDRAY-TMS60] [DRAGER-APOLLO]; escalation at ≤40 [NEWS2]' },
  { ...threshold, id: 'spo2-low', code: SPO2, op: '<', limit: 90, delay_s: 10, hysteresis: 2, priority: 'medium',
    escalate: { limit: 80, priority: 'high' },
    source: 'SpO2 low 90 (medium) [EDAN-M3A] [MINDRAY-TM80]; desat 80 high [MINDRAY-TM80] [PHILIPS-VS30]; 10 s delay [PHILIPS-VS30]' },
  { ...threshold, id: 'rr-high', code: RR, op: '>', limit: 30, delay_s: 30, hysteresis: 2, priority: 'medium',
    source: 'RR high 30 [LIFEPAK-15] [SPACELABS]; 30 s delay [LOCAL]' },
  { ...threshold, id: 'rr-low', code: RR, op: '<=', limit: 8, delay_s: 20, hysteresis: 2, priority: 'medium',
    escalate: { limit: 4, priority: 'high' },
    source: 'RR ≤8 scores 3 [NEWS2]; 20 s delay = apnea default [SPACELABS]; escalation at ≤4 [LOCAL]' },
  // NIBP is a spot measurement every few minutes: each reading is the whole episode, no delay.
  { ...threshold, id: 'sbp-low', code: SBP, op: '<=', limit: 90, delay_s: 0, hysteresis: 5, priority: 'medium',
    escalate: { limit: 70, priority: 'high' },
    source: 'NIBP-S low 90 [MINDRAY-TM80]; ≤90 scores 3 [NEWS2]; escalation at ≤70 [LOCAL]' },
  { ...threshold, id: 'sbp-high', code: SBP, op: '>', limit: 160, delay_s: 0, hysteresis: 5, priority: 'low',
    escalate: { limit: 219, priority: 'medium' },
    source: 'NIBP-S high 160 [MINDRAY-TM80]; escalation at ≥220 = NEWS2 3 [NEWS2]' },
  { ...threshold, id: 'temp-high', code: TEMP, op: '>', limit: 39.0, delay_s: 0, hysteresis: 0.2, priority: 'low',
    source: 'Temp high 39 °C [LIFEPAK-15]; ≥39.1 scores 2 [NEWS2]' },
  { ...threshold, id: 'temp-low', code: TEMP, op: '<=', limit: 35.0, delay_s: 0, hysteresis: 0.2, priority: 'medium',
    source: 'Temp low 35 °C [LIFEPAK-15]; ≤35.0 scores 3 [NEWS2]' },
]

const aggregates: RuleDef[] = [
  { ...physio, kind: 'window', id: 'hr-avg-high', code: HR, window: 'sliding', window_s: 60, aggregate: 'avg',
    op: '>', limit: 110, min_samples: 5, max_samples: 128, priority: 'low',
    source: 'NEWS2 pulse 111–130 scores 2 [NEWS2]; 60 s average, 5 samples [LOCAL] (DESIGN.md example)' },
  { ...physio, kind: 'window', id: 'spo2-dips', code: SPO2, window: 'sliding', window_s: 120, aggregate: 'count',
    excursion: { op: '<', limit: 90 }, op: '>=', limit: 3, min_samples: 1, max_samples: 128, priority: 'low',
    source: 'SpO2 low 90 [EDAN-M3A] [MINDRAY-TM80]; 3 dips in 120 s [LOCAL]' },
  { ...physio, kind: 'trend', id: 'hr-rise', code: HR, direction: 'up', change: 30, baseline_s: 1800, recent_s: 60,
    warmup_s: 300, min_samples: 10, priority: 'low', source: '+30 /min over the 30 min baseline [LOCAL], no published default' },
  { ...physio, kind: 'trend', id: 'spo2-fall', code: SPO2, direction: 'down', change: 4, baseline_s: 1800, recent_s: 60,
    warmup_s: 300, min_samples: 10, priority: 'low', source: '−4 % under the 30 min baseline [LOCAL], no published default' },
  // NEWS2 escalation (category clinical-escalation), RCP 2017 Chart 2 "NEWS thresholds and
  // triggers" and its clinical response (protocols.md §9 [S-NEWS-RCP]) mapped onto the IEC 60601-1-8
  // priorities by the response each asks for (protocols.md §10: high = immediate, medium = prompt,
  // low = awareness):
  //   aggregate 0                      → no alarm (routine monitoring, at least 12-hourly)
  //   aggregate 1–4, "low"             → low    (ward-based response: a registered nurse assesses)
  //   single parameter 3, "low–medium" → medium (urgent ward-based response: at least hourly)
  //   aggregate 5–6, "medium"          → medium (key threshold for urgent response)
  //   aggregate ≥ 7, "high"            → high   (emergency response)
  { ...physio, kind: 'news2', id: 'news2', priority: 'medium', max_age_s: 3600, context_max_age_s: 43200, red_priority: 'medium', low_priority: 'low',
    source: 'RCP NEWS2 Chart 2 thresholds and triggers: ≥7 high (emergency), 5–6 medium (urgent), single 3 medium (urgent ward-based), 1–4 low (ward-based) [NEWS2]; priority terms [IEC-8]; input ages [LOCAL]' },
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
  // An algorithm that cannot interpret the data is a technical condition [IEC-8] (protocols.md §10).
  { ...technical, id: 'tech-ecg-noise', condition: 'ecg-noise', delay_s: 10, priority: 'low', source: 'algorithm cannot interpret the data [IEC-8]; 10 s delay, low [LOCAL]' },
  // Equipment failure is a technical condition [IEC-8]; medium, like the quota alarm [LOCAL].
  { ...technical, id: 'tech-self-test', condition: 'self-test-failed', priority: 'medium', source: 'equipment failure is a technical condition [IEC-8]; priority [LOCAL]' },
  { ...technical, id: 'tech-ecg-saturation', condition: 'ecg-saturation', delay_s: 10, priority: 'low', source: 'algorithm cannot interpret the data [IEC-8]; 10 s delay, low [LOCAL]' },
]

/**
 * Rhythm alarms (issue 20): episodes of the per-patch rhythm analysis (agent/signal/rhythm.ts, whose
 * constants cite the detection thresholds: asystole 4 s without a QRS [MINDRAY-EPM]
 * [SPACELABS-ARRH]; VT ≥ 5 ventricular beats ≥ 100 /min [PHILIPS-ARRH]; extreme rates < 40 and
 * > 140 /min, the HR escalations above [NEWS2] [PHILIPS-MP5]). Life-threatening rhythms are high
 * priority and latching [IEC-8] ("a common design latches high priority", [S-DRAGER-LATCH]);
 * they have no cooldown: a second asystole is never held back [LOCAL]. AF is not an emergency on a
 * ward: a low-priority advisory whose raise and clear carry the episode's start and end [LOCAL].
 */
const rhythm = { kind: 'rhythm', cooldown_s: 0 } as const
const rhythms: RuleDef[] = [
  { ...rhythm, id: 'rhythm-asystole', rhythm: 'ASYS', priority: 'high', latching: 'always', source: 'asystole: no QRS ≥ 4 s [MINDRAY-EPM] [SPACELABS-ARRH]; high, latching [IEC-8]' },
  { ...rhythm, id: 'rhythm-vf', rhythm: 'VF', priority: 'high', latching: 'always', source: 'VF/VFL from the ECG (Kuo & Dillman VF filter): a 4 s window VF-like for 1.5 s, called ≤ 6 s after onset [LOCAL], within the < 11 s time to alarm disclosed for tachycardia [MINDRAY-UMEC]; high, latching [IEC-8]' },
  { ...rhythm, id: 'rhythm-vt', rhythm: 'VT', priority: 'high', latching: 'always', source: 'V-Tach run ≥ 5, ≥ 100 /min [PHILIPS-ARRH]; high, latching [IEC-8]' },
  { ...rhythm, id: 'rhythm-extreme-brady', rhythm: 'BRADY', priority: 'high', latching: 'high', cooldown_s: 60,
    source: 'HR < 40 /min, inside NEWS2 pulse 3 (≤ 40) [NEWS2]; extreme limit = low limit − Δ [PHILIPS-MP5]; 60 s cooldown [LOCAL]' },
  { ...rhythm, id: 'rhythm-extreme-tachy', rhythm: 'TACHY', priority: 'high', latching: 'high', cooldown_s: 60,
    source: 'HR > 140 /min = high limit 120 + 20 [PHILIPS-MP5] [LOCAL]; 60 s cooldown [LOCAL]' },
  { ...rhythm, id: 'rhythm-afib', rhythm: 'AFIB', priority: 'low', latching: 'never', cooldown_s: 300,
    source: 'AF episode onset/offset as an advisory [MINDRAY-EPM] (AF/Irr Rhy alarm); low, non-latching [LOCAL]' },
]

/** The default adult rules, complete and validated by the schema tests. */
export const DEFAULT_RULE_DEFS: readonly RuleDef[] = Object.freeze([...thresholds, ...aggregates, ...technicals, ...rhythms])
