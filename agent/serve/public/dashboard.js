// Central-station page: state from the /ws feed (serve/ws.ts), drawn into a bed grid, an alarm
// list and a sweeping ECG strip per bed (ecg-strip.js). Plain browser JS, no build step. Every server value is
// written with textContent (never innerHTML): alarm messages and labels are data, not markup.
// Nothing of the ward is fetched before sign-in (issue 18): the token is kept in sessionStorage (this
// tab only, gone when it closes), sent on fetches and, as a WebSocket subprotocol, on /ws; a refused
// token returns to the sign-in and clears what the page held.
// Each tile shows the NEWS2 inputs a nurse sets (issue 19: ACVPU, oxygen, SpO2 scale) and a small
// form to change them (POST /api/beds/{bed}/context); the tile then changes from the live feed, on
// every open page. Scale 2 is marked on the tile wherever it counts and must be confirmed when chosen.
'use strict'
;(() => {
  // A value older than this is dimmed. NIBP is intermittent (cycles of 5-60 min), temperature slow.
  const STALE_MS = { hr: 30_000, spo2: 30_000, rr: 60_000, nibp: 60 * 60_000, temp: 30 * 60_000 }
  const QUIET_RECONNECT_MS = 6000 // the server sends status every 2 s; silence this long = dead link
  const SYNC_BEHIND_S = 60
  const PRIO = { high: 2, medium: 1, low: 0 }
  const IGNORED_FLAGS = new Set(['demo', 'retimed']) // shown as a label, still a value
  const CODES = {
    hr: ['MDC_ECG_HEART_RATE', 'MDC_PULS_OXIM_PULS_RATE'],
    spo2: ['MDC_PULS_OXIM_SAT_O2'],
    rr: ['MDC_RESP_RATE'],
    temp: ['MDC_TEMP_BODY'],
  }

  const $ = (id) => document.getElementById(id)
  const state = { hub: '', beds: new Map(), alarms: new Map(), status: null, snapshots: 0, messages: 0 }
  const tiles = new Map() // bedId → { el, strip }
  const alarmRows = new Map() // alarmId → { li, key }
  const TOKEN_KEY = 'bedside-session-token'
  const WHO_KEY = 'bedside-session-who'
  const WS_PROTOCOL = 'bedside.v1' // the server answers with this one, never with the token (serve/access.ts)
  const WRITER_ROLES = new Set(['nurse', 'admin']) // who may write (serve/access.ts mayWrite); the server decides
  const ACVPU_TEXT = { A: 'alert', C: 'new confusion', V: 'responds to voice', P: 'responds to pain', U: 'unresponsive' }
  const CONTEXT_AGE_REFRESH_MS = 30_000 // the "set … ago" texts of a quiet bed
  let formSeq = 0
  let ws = null
  let backoffMs = 500
  let lastMessageMs = 0
  let reconnectTimer = null

  // ---------- sign-in ----------
  const sessionToken = () => sessionStorage.getItem(TOKEN_KEY)

  /** base64url of the UTF-8 token: subprotocol names allow only a few characters. */
  function b64url(text) {
    let bin = ''
    for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b)
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  }

  async function signIn(token) {
    const err = $('signin-error')
    err.textContent = ''
    let r
    try {
      r = await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    } catch (e) {
      err.textContent = `The ward hub does not answer: ${e.message}`
      return
    }
    if (r.status === 401) {
      err.textContent = 'Unknown token.'
      return
    }
    if (!r.ok) {
      err.textContent = `Sign-in failed (HTTP ${r.status}).`
      return
    }
    const who = await r.json()
    sessionStorage.setItem(TOKEN_KEY, token)
    sessionStorage.setItem(WHO_KEY, JSON.stringify(who))
    $('signin-token').value = ''
    showSignedIn(who)
    connect()
  }

  function showSignedIn(who) {
    state.role = who ? who.role : null
    $('who').textContent = who ? `${who.name} (${who.role})` : ''
    document.body.classList.remove('signed-out')
  }

  /** Back to the sign-in: forget the token and everything shown, so no patient data stays on screen. */
  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY)
    sessionStorage.removeItem(WHO_KEY)
    clearTimeout(reconnectTimer)
    const sock = ws
    ws = null
    if (sock) sock.close()
    state.beds = new Map()
    state.alarms = new Map()
    for (const t of tiles.values()) t.el.remove()
    tiles.clear()
    renderAlarms()
    $('who').textContent = ''
    $('signin-error').textContent = reason || ''
    document.body.classList.add('signed-out')
    $('signin-token').focus()
  }

  /** A socket that closed before opening may have been refused: ask with the same token whether it still counts. */
  async function checkToken() {
    const token = sessionToken()
    if (!token) return false
    try {
      const r = await fetch('/api/status', { headers: { authorization: `Bearer ${token}` } })
      if (r.status === 401) {
        signOut('Your token is no longer accepted: sign in again.')
        return false
      }
    } catch {
      // The hub is unreachable: keep the token and keep retrying.
    }
    return true
  }

  // ---------- live feed ----------
  function connect() {
    const token = sessionToken()
    if (!token) return signOut()
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
    const sock = new WebSocket(url, [WS_PROTOCOL, `bearer.${b64url(token)}`])
    let opened = false
    ws = sock
    sock.onopen = () => {
      opened = true
      backoffMs = 500
      lastMessageMs = Date.now()
    }
    sock.onmessage = (ev) => {
      lastMessageMs = Date.now()
      state.messages++
      let msg
      try {
        msg = JSON.parse(ev.data)
      } catch (err) {
        console.warn('dashboard: bad message from hub', err)
        return
      }
      handle(msg)
    }
    sock.onclose = async () => {
      if (ws !== sock) return
      ws = null
      setConnected(false)
      if (!opened && !(await checkToken())) return
      reconnectTimer = setTimeout(connect, backoffMs)
      backoffMs = Math.min(backoffMs * 2, 5000)
    }
    sock.onerror = () => sock.close()
  }

  // A half-open link (hub gone, no FIN) shows no close event: treat silence as a drop.
  setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - lastMessageMs > QUIET_RECONNECT_MS) ws.close()
  }, 1000)

  function handle(msg) {
    switch (msg.type) {
      case 'snapshot': return applySnapshot(msg)
      case 'bed': return applyBed(msg.bed)
      case 'alarm': return applyAlarm(msg.alarm, msg.folded)
      case 'link': return applyLink(msg.deviceId, msg.link)
      case 'wave': return applyWave(msg)
      case 'status': return applyStatus(msg.status)
      default: console.warn('dashboard: unknown message type', msg.type)
    }
  }

  /** A snapshot replaces everything: whatever was missed while disconnected is now correct. */
  function applySnapshot(msg) {
    state.snapshots++
    state.hub = msg.hub
    $('ward').textContent = msg.hub
    document.title = `${msg.hub} central station`
    state.beds = new Map(msg.beds.map((b) => [b.id, b]))
    for (const [id, t] of tiles) if (!state.beds.has(id)) { t.el.remove(); tiles.delete(id) }
    // The list comes grouped (rules/grouping.ts): folded alarms inside the entry they sit under.
    state.alarms = new Map()
    for (const a of msg.alarms) {
      state.alarms.set(a.alarmId, a)
      for (const f of a.folded || []) state.alarms.set(f.alarmId, f)
    }
    for (const b of msg.beds) renderBed(b)
    setConnected(true)
    applyStatus(msg.status)
    renderAlarms()
  }

  function applyBed(bed) {
    if (!bed || !bed.id) return
    state.beds.set(bed.id, bed)
    renderBed(bed)
  }

  /** One alarm change, and the grouping of its bed's open alarms after it (alarm id → folded under, or null). */
  function applyAlarm(a, folded) {
    if (a.state === 'cleared') state.alarms.delete(a.alarmId)
    else state.alarms.set(a.alarmId, a)
    if (folded) {
      for (const [id, under] of Object.entries(folded)) {
        const x = state.alarms.get(id)
        if (!x || (x.foldedInto || null) === under) continue
        const copy = { ...x }
        if (under) copy.foldedInto = under
        else delete copy.foldedInto
        state.alarms.set(id, copy)
      }
    }
    renderAlarms()
  }

  function applyLink(deviceId, link) {
    for (const bed of state.beds.values()) {
      const d = bed.devices.find((x) => x.id === deviceId)
      if (!d) continue
      d.link = link
      renderDevices(bed)
    }
  }

  function applyStatus(s) {
    state.status = s
    if (!s) return
    const q = s.queue || {}
    const behind = s.sync && s.sync.configured && (q.oldestUnsyncedAgeS >= SYNC_BEHIND_S || s.sync.failingSinceMs)
    const sync = $('banner-sync')
    sync.hidden = !behind
    if (behind) {
      const cause = s.sync.lastError ? ` (${s.sync.lastError.message})` : ''
      sync.textContent = `Cloud sync behind: oldest unsynced record ${fmtAge(q.oldestUnsyncedAgeS)} old, ${q.depth} queued${cause}. Alarms on this ward are not affected.`
    }
    $('banner-insecure').hidden = !(s.http && s.http.insecure)
    const quota = $('banner-quota')
    quota.hidden = !q.overQuota
    if (q.overQuota) quota.textContent = `Local queue over quota: waveforms are being shed oldest-first (${q.depth} records queued).`
  }

  function setConnected(up) {
    const c = $('conn')
    c.textContent = up ? 'live' : 'reconnecting…'
    c.className = `conn ${up ? 'up' : 'down'}`
    $('banner-conn').hidden = up
    document.body.classList.toggle('stale', !up)
  }

  // ---------- bed tiles ----------
  function tileOf(bedId) {
    let t = tiles.get(bedId)
    if (t) return t
    const el = $('bed-tpl').content.firstElementChild.cloneNode(true)
    el.dataset.bed = bedId
    el.querySelector('.bed-id').textContent = bedId
    $('beds').appendChild(el)
    t = { el, strip: new window.BedsideEcgStrip(el.querySelector('canvas.ecg')), opened: null }
    tiles.set(bedId, t)
    wireContextForm(bedId, t)
    return t
  }

  function valueOf(bed, codes) {
    for (const code of codes) {
      const v = bed.vitals.find((x) => x.code === code)
      if (v) return v
    }
    return null
  }

  function fmt(v, digits) {
    return v === null || v === undefined ? '--' : Number(v).toFixed(digits)
  }

  function setNum(el, key, text, vs) {
    const box = el.querySelector(`.num[data-k="${key}"]`)
    box.querySelector('b').textContent = text
    // A value with flags is shown struck through; "no value" (unavailable) is just "--".
    const flags = vs.flatMap((v) => (v && v.value !== null ? v.quality.filter((q) => !IGNORED_FLAGS.has(q)) : []))
    box.classList.toggle('flagged', flags.length > 0)
    const newest = Math.max(0, ...vs.map((v) => (v ? v.ts : 0)))
    box.title = `${flags.length > 0 ? `flagged: ${flags.join(', ')}; ` : ''}${newest > 0 ? `measured ${fmtTime(newest)}` : 'no value'}`
    box.classList.toggle('stale', newest > 0 && Date.now() - newest > STALE_MS[key])
  }

  function renderBed(bed) {
    const { el } = tileOf(bed.id)
    const patient = el.querySelector('.patient')
    patient.textContent = bed.patient ? bed.patient.label : 'no patient admitted'
    patient.title = patient.textContent // the name may be cut short beside the NEWS2 badges
    // Issue 21: where the admission came from: the hospital's ADT feed, or typed in by hand (the fallback).
    patient.dataset.source = bed.patient ? bed.patient.source : ''
    if (bed.patient) patient.title += bed.patient.source === 'adt' ? ' (from the hospital ADT feed)' : ' (admitted by hand)'
    const hr = valueOf(bed, CODES.hr)
    const spo2 = valueOf(bed, CODES.spo2)
    const rr = valueOf(bed, CODES.rr)
    const temp = valueOf(bed, CODES.temp)
    const sys = valueOf(bed, ['MDC_PRESS_BLD_NONINV_SYS'])
    const dia = valueOf(bed, ['MDC_PRESS_BLD_NONINV_DIA'])
    setNum(el, 'hr', fmt(hr && hr.value, 0), [hr])
    setNum(el, 'spo2', fmt(spo2 && spo2.value, 0), [spo2])
    if (scaleOf(bed) === 2) el.querySelector('.num[data-k="spo2"]').title += '; NEWS2 scores it on SpO₂ scale 2'
    setNum(el, 'rr', fmt(rr && rr.value, 0), [rr])
    setNum(el, 'temp', fmt(temp && temp.value, 1), [temp])
    setNum(el, 'nibp', sys || dia ? `${fmt(sys && sys.value, 0)}/${fmt(dia && dia.value, 0)}` : '--/--', [sys, dia])
    const n = el.querySelector('.news2')
    n.className = 'news2'
    // No parameter scored: no score to show (a grey dash, never a reassuring green 0).
    if (bed.news2 && bed.news2.used.length > 0) {
      const parts = bed.news2.parts.map((p) => `${p.param} ${p.value}: ${p.points}`).join(', ')
      n.textContent = `NEWS2 ${bed.news2.total}${bed.news2.complete ? '' : '*'}`
      n.classList.add(`band-${bed.news2.band}`)
      n.title = `NEWS2 band ${bed.news2.band}; SpO₂ scale ${scaleOf(bed)}; ${parts}${bed.news2.complete ? '' : `; incomplete, missing: ${bed.news2.missing.join(', ')}`}`
    } else {
      n.textContent = 'NEWS2 –'
      n.title = 'NEWS2: no data'
    }
    renderContext(bed)
    el.dataset.demo = bed.vitals.some((v) => v.quality.includes('demo')) ? '1' : ''
    renderDevices(bed)
    renderBedAlarm(bed.id)
  }

  function renderDevices(bed) {
    const { el } = tileOf(bed.id)
    const foot = el.querySelector('.devices')
    foot.textContent = ''
    for (const d of bed.devices) {
      const s = document.createElement('span')
      const link = d.link ? d.link.state : 'unknown'
      s.className = `dev link-${link}`
      s.textContent = `${d.id} ${d.link ? link : d.type}`
      if (d.link && d.link.cause) s.title = d.link.cause
      foot.appendChild(s)
      if (d.battery === 'low') {
        const b = document.createElement('span')
        b.className = 'batt-low'
        b.textContent = `${d.id} battery low`
        foot.appendChild(b)
      }
    }
    if (el.dataset.demo) {
      const demo = document.createElement('span')
      demo.className = 'demo'
      demo.textContent = 'DEMO DATA'
      foot.appendChild(demo)
    }
  }

  function renderBedAlarm(bedId) {
    const t = tiles.get(bedId)
    if (!t) return
    let top = null
    let flash = false
    for (const a of state.alarms.values()) {
      if (a.bedId !== bedId) continue
      if (!top || PRIO[a.priority] > PRIO[top]) top = a.priority
      if (a.priority === 'high' && a.state !== 'acknowledged') flash = true
    }
    t.el.dataset.alarm = top || ''
    t.el.classList.toggle('flash', flash)
  }

  // ---------- NEWS2 context on the tile (issue 19) ----------
  /**
   * The SpO2 scale NEWS2 uses for the bed: 2 if either the engine's score or the nurse's setting
   * says so, so that a scale-2 score is never shown as if it were scale 1.
   */
  function scaleOf(bed) {
    const c = bed.context || {}
    return (c.spo2_scale && c.spo2_scale.value === 2) || (bed.news2 && bed.news2.spo2Scale === 2) ? 2 : 1
  }

  /** "set 13:05:12 (4 min ago) by nurse:ann" */
  function setBy(v) {
    return `set ${fmtTime(v.atMs)} (${fmtAge(Math.max(0, Math.round((Date.now() - v.atMs) / 1000)))} ago) by ${v.by}`
  }

  function renderContext(bed) {
    const t = tiles.get(bed.id)
    if (!t) return
    const el = t.el
    const c = bed.context || {}
    const scale = scaleOf(bed)
    // Consciousness and oxygen set longer ago than the rule's context_max_age_s still count, and
    // are marked for a nurse to confirm (the engine names them in news2.unconfirmed).
    const unconfirmed = (k) => !!(bed.news2 && bed.news2.unconfirmed && bed.news2.unconfirmed.includes(k))
    const CONFIRM = ', not confirmed for a long time: NEWS2 still counts it; set it again to confirm'
    const agedC = c.consciousness && unconfirmed('consciousness')
    setContextValue(el, 'consciousness', c.consciousness,
      c.consciousness ? `ACVPU ${c.consciousness.value}` : 'ACVPU –',
      c.consciousness ? `Consciousness ${c.consciousness.value} (${ACVPU_TEXT[c.consciousness.value] || '?'})${agedC ? CONFIRM : ''}` : 'Consciousness (ACVPU) not set: NEWS2 counts it as missing')
    el.querySelector('.ctx-val[data-k="consciousness"]').classList.toggle('aged', !!agedC)
    const agedO = c.on_oxygen && unconfirmed('air')
    setContextValue(el, 'on_oxygen', c.on_oxygen,
      c.on_oxygen ? (c.on_oxygen.value ? 'On O₂' : 'Air') : 'O₂ –',
      c.on_oxygen ? `${c.on_oxygen.value ? 'On supplemental oxygen' : 'On air'}${agedO ? CONFIRM : ''}` : 'Air or oxygen not set: NEWS2 counts it as missing')
    el.querySelector('.ctx-val[data-k="on_oxygen"]').classList.toggle('aged', !!agedO)
    setContextValue(el, 'spo2_scale', c.spo2_scale, `SpO₂ scale ${scale}`,
      c.spo2_scale ? `SpO₂ scale ${c.spo2_scale.value}` : 'SpO₂ scale 1 (default, never set)')
    el.querySelector('.ctx-val[data-k="spo2_scale"]').classList.toggle('scale-2', scale === 2)
    // Scale 2 marked beside the score and on the SpO2 value, wherever a reader looks.
    const badge = el.querySelector('.scale2')
    badge.hidden = scale !== 2
    badge.title = `NEWS2 scores SpO₂ on scale 2 (prescribed target 88–92 %)${c.spo2_scale ? `, ${setBy(c.spo2_scale)}` : ''}`
    el.querySelector('.num[data-k="spo2"]').classList.toggle('scale-2', scale === 2)
  }

  function setContextValue(el, key, v, text, what) {
    const chip = el.querySelector(`.ctx-val[data-k="${key}"]`)
    chip.textContent = text
    chip.title = v ? `${what}, ${setBy(v)}` : what
    chip.classList.toggle('unset', !v)
    el.querySelector(`.ctx-now[data-k="${key}"]`).textContent = v ? `now: ${text}, ${setBy(v)}` : key === 'spo2_scale' ? 'now: scale 1 (default, never set)' : 'now: not set'
  }

  /** The tile's edit button and form; values are filled only when opened (live renders leave them). */
  function wireContextForm(bedId, t) {
    const btn = t.el.querySelector('.ctx-edit')
    const form = t.el.querySelector('.ctx-form')
    form.id = `ctx-form-${++formSeq}`
    form.setAttribute('aria-label', `NEWS2 inputs of bed ${bedId}`)
    btn.setAttribute('aria-controls', form.id)
    btn.title = `Set consciousness (ACVPU), oxygen and SpO₂ scale of bed ${bedId}`
    if (state.role && !WRITER_ROLES.has(state.role)) {
      btn.disabled = true
      btn.title = `Signed in as ${state.role}: only a nurse or admin may set NEWS2 inputs`
    }
    btn.addEventListener('click', () => (form.hidden ? openContextForm(bedId, t) : closeContextForm(t)))
    form.elements.spo2_scale.addEventListener('change', () => showScaleConfirm(t))
    form.querySelector('.ctx-cancel').addEventListener('click', () => closeContextForm(t))
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') closeContextForm(t)
    })
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      submitContext(bedId, t)
    })
  }

  function openContextForm(bedId, t) {
    const bed = state.beds.get(bedId)
    const c = (bed && bed.context) || {}
    const form = t.el.querySelector('.ctx-form')
    const f = form.elements
    // The values as opened: only what the nurse changes is sent, so a change another nurse made
    // meanwhile (scale 2 above all) is not overwritten by a stale form.
    t.opened = {
      consciousness: c.consciousness ? c.consciousness.value : '',
      on_oxygen: c.on_oxygen ? String(c.on_oxygen.value) : '',
      spo2_scale: String(bed ? scaleOf(bed) : 1),
    }
    for (const k of ['consciousness', 'on_oxygen']) {
      f[k].value = t.opened[k]
      f[k].querySelector('option[value=""]').disabled = t.opened[k] !== '' // a set value cannot be unset
    }
    f.spo2_scale.value = t.opened.spo2_scale
    f.confirm_scale2.checked = false
    showScaleConfirm(t)
    t.el.querySelector('.ctx-error').textContent = ''
    form.hidden = false
    t.el.querySelector('.ctx-edit').setAttribute('aria-expanded', 'true')
    f.consciousness.focus()
  }

  function closeContextForm(t) {
    const form = t.el.querySelector('.ctx-form')
    const wasOpen = !form.hidden
    form.hidden = true
    t.opened = null
    const btn = t.el.querySelector('.ctx-edit')
    btn.setAttribute('aria-expanded', 'false')
    if (wasOpen) btn.focus()
  }

  /** Choosing scale 2 asks for the clinician's decision (RCP NEWS2, protocols.md §9). */
  function showScaleConfirm(t) {
    const f = t.el.querySelector('.ctx-form').elements
    const box = t.el.querySelector('.ctx-confirm')
    box.hidden = !(t.opened && f.spo2_scale.value === '2' && t.opened.spo2_scale !== '2')
    if (box.hidden) f.confirm_scale2.checked = false
  }

  /** The fields changed since the form was opened, as the route takes them. */
  function contextChanges(t) {
    const f = t.el.querySelector('.ctx-form').elements
    const body = {}
    if (f.consciousness.value !== '' && f.consciousness.value !== t.opened.consciousness) body.consciousness = f.consciousness.value
    if (f.on_oxygen.value !== '' && f.on_oxygen.value !== t.opened.on_oxygen) body.on_oxygen = f.on_oxygen.value === 'true'
    if (f.spo2_scale.value !== t.opened.spo2_scale) body.spo2_scale = Number(f.spo2_scale.value)
    return body
  }

  async function submitContext(bedId, t) {
    if (!t.opened) return
    const form = t.el.querySelector('.ctx-form')
    const err = t.el.querySelector('.ctx-error')
    err.textContent = ''
    const body = contextChanges(t)
    if (Object.keys(body).length === 0) {
      err.textContent = 'Nothing changed: choose a new value, or Cancel.'
      return
    }
    if (body.spo2_scale === 2 && !form.elements.confirm_scale2.checked) {
      err.textContent = 'SpO₂ scale 2 not set: confirm that a clinician prescribed it.'
      form.elements.confirm_scale2.focus()
      return
    }
    const token = sessionToken()
    if (!token) return signOut()
    // Busy, not disabled: a disabled button would drop the keyboard focus out of the form.
    if (t.busy) return
    t.busy = true
    form.setAttribute('aria-busy', 'true')
    try {
      const r = await fetch(`/api/beds/${encodeURIComponent(bedId)}/context`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      })
      const answer = await r.json().catch(() => ({}))
      if (!r.ok) {
        err.textContent = `Not set: ${refusalText(r.status, answer)}`
        return
      }
      closeContextForm(t)
      // The live feed brings the same to every page; this keeps the tile right if the feed is down.
      const bed = state.beds.get(bedId)
      if (bed) applyBed({ ...bed, context: answer.context, news2: answer.news2 })
    } catch (e) {
      err.textContent = `Not set: the ward hub does not answer (${e.message}).`
    } finally {
      t.busy = false
      form.removeAttribute('aria-busy')
    }
  }

  /** A 4xx as the nurse should read it: the field and what is wrong, or who may do this. */
  function refusalText(status, answer) {
    if (status === 401) return 'your token is no longer accepted; sign in again (HTTP 401).'
    const fields = Array.isArray(answer.fields) ? answer.fields.map((f) => `${f.field}: ${f.message}`).join('; ') : ''
    return `${fields || answer.error || 'refused'} (HTTP ${status}).`
  }

  // ---------- alarm list ----------
  /** Alarms folded under another open alarm are not entries of their own: their leader shows them. */
  function isFolded(a) {
    return !!a.foldedInto && state.alarms.has(a.foldedInto)
  }

  function foldedUnder(id) {
    return [...state.alarms.values()].filter((x) => x.foldedInto === id && isFolded(x))
  }

  function renderAlarms() {
    const list = [...state.alarms.values()].filter((a) => !isFolded(a)).sort((a, b) =>
      (a.state === 'acknowledged') - (b.state === 'acknowledged') || PRIO[b.priority] - PRIO[a.priority] || b.atMs - a.atMs)
    const ol = $('alarms')
    const keep = new Set()
    list.forEach((a, i) => {
      keep.add(a.alarmId)
      const row = alarmRow(a)
      if (ol.children[i] !== row) ol.insertBefore(row, ol.children[i] || null)
    })
    for (const [id, row] of alarmRows) if (!keep.has(id)) { row.li.remove(); alarmRows.delete(id) }
    $('alarm-count').textContent = String(list.length)
    $('counts').textContent = `${state.beds.size} beds · ${list.filter((a) => a.state !== 'acknowledged').length} unacknowledged`
    for (const id of tiles.keys()) renderBedAlarm(id)
  }

  /**
   * The list item of an alarm, rebuilt only when the alarm changed: re-creating rows on every
   * message would restart the flashing phase and steal a nurse's click target.
   */
  function alarmRow(a) {
    const key = `${a.state}|${a.priority}|${a.message}|${a.ackBy || ''}|${a.atMs}|${foldedUnder(a.alarmId).map((f) => `${f.alarmId}:${f.state}`).join(',')}`
    const row = alarmRows.get(a.alarmId)
    if (row && row.key === key) return row.li
    const li = alarmItem(a)
    if (row) row.li.replaceWith(li)
    alarmRows.set(a.alarmId, { li, key })
    return li
  }

  function alarmItem(a) {
    const li = document.createElement('li')
    const unacked = a.state !== 'acknowledged'
    li.className = `alarm prio-${a.priority} state-${a.state}${unacked ? ' unacked' : ''}`
    li.dataset.alarmId = a.alarmId
    li.dataset.priority = a.priority
    li.dataset.state = a.state
    const sw = document.createElement('span')
    sw.className = 'swatch'
    const what = document.createElement('span')
    what.className = 'what'
    what.textContent = `${a.bedId}: ${a.message}`
    const meta = document.createElement('span')
    meta.className = 'meta'
    meta.textContent = `${a.priority} · ${a.category} · ${a.state}${a.ackBy ? ` by ${a.ackBy}` : ''} · since ${fmtTime(a.conditionSinceMs)}`
    const under = foldedUnder(a.alarmId)
    if (under.length > 0) {
      // Same episode, same parameter: shown inside this entry, never as a second one (issue 19).
      const more = document.createElement('span')
      more.className = 'folded'
      more.dataset.folded = String(under.length)
      more.textContent = ` · also: ${under.map((f) => `${f.message} (${f.priority})`).join('; ')}`
      meta.appendChild(more)
    }
    const btn = document.createElement('button')
    btn.type = 'button'
    btn.className = 'ack'
    btn.textContent = 'Acknowledge'
    btn.disabled = !unacked
    btn.addEventListener('click', () => acknowledge(a.alarmId, btn))
    li.append(sw, what, btn, meta)
    return li
  }

  async function acknowledge(alarmId, btn) {
    const token = $('token').value.trim() || sessionToken() || ''
    const err = $('ack-error')
    err.textContent = ''
    if (!token) {
      err.textContent = 'Enter your nurse token to acknowledge alarms.'
      $('token').focus()
      return
    }
    btn.disabled = true
    try {
      const r = await fetch(`/api/alarms/${encodeURIComponent(alarmId)}/ack`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
      const body = await r.json().catch(() => ({}))
      if (!r.ok) {
        btn.disabled = false
        err.textContent = `Not acknowledged: ${body.error || r.status}`
        return
      }
      applyAlarm(body.alarm)
    } catch (e) {
      btn.disabled = false
      err.textContent = `Not acknowledged: ${e.message}`
    }
  }

  function applyWave(msg) {
    const t = tiles.get(msg.bedId)
    if (t && Array.isArray(msg.samples) && msg.rateHz > 0) t.strip.push(msg.samples, msg.rateHz)
  }

  let lastFrameMs = performance.now()
  function animate(nowMs) {
    const dt = Math.min(1000, nowMs - lastFrameMs)
    lastFrameMs = nowMs
    for (const t of tiles.values()) t.strip.frame(nowMs, dt)
    requestAnimationFrame(animate)
  }

  // ---------- helpers ----------
  function fmtTime(ms) {
    return ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '?'
  }

  function fmtAge(s) {
    if (s < 120) return `${s} s`
    if (s < 7200) return `${Math.round(s / 60)} min`
    return `${(s / 3600).toFixed(1)} h`
  }

  setInterval(() => ($('clock').textContent = new Date().toLocaleTimeString([], { hour12: false })), 1000)
  setInterval(() => { for (const bed of state.beds.values()) renderContext(bed) }, CONTEXT_AGE_REFRESH_MS)
  $('ack-as').addEventListener('submit', (e) => e.preventDefault())
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const token = $('signin-token').value.trim()
    if (token) signIn(token)
  })
  $('signout').addEventListener('click', () => signOut())

  // For tests and for support staff: read-only view of the page's state.
  window.bedsideDashboard = { state, socket: () => ws }
  if (sessionToken()) {
    showSignedIn(JSON.parse(sessionStorage.getItem(WHO_KEY) || 'null'))
    connect()
  } else {
    signOut()
  }
  requestAnimationFrame(animate)
})()
