// Sweeping ECG strip for one bed tile, fed by the /ws 'wave' messages (decimated to <= 125 Hz by
// serve/ws.ts). Samples are played out in real time behind a small jitter buffer, like a monitor.
'use strict'
;(() => {
const WAVE_WINDOW_S = 5 // strip width in seconds (a 25 mm/s paper sweep shows about this much)
const WAVE_PLAYOUT_MS = 300 // jitter buffer: samples are drawn this long after they arrive
const MAX_QUEUED_CHUNKS = 50

/** Sweeping strip: new samples overwrite the oldest left to right, with a gap ahead of the pen. */
class Strip {
  constructor(canvas) {
    this.canvas = canvas
    this.ctx = canvas.getContext('2d')
    this.queue = [] // [{ dueMs, samples, rateHz }]
    this.x = 0
    this.lastY = null
    this.carry = 0
    this.rateHz = 0
  }

  push(samples, rateHz) {
    this.queue.push({ dueMs: performance.now() + WAVE_PLAYOUT_MS, samples, i: 0, rateHz })
    if (this.queue.length > MAX_QUEUED_CHUNKS) this.queue.splice(0, this.queue.length - MAX_QUEUED_CHUNKS) // a hidden tab must not hoard
  }

  resize() {
    const w = Math.max(50, Math.round(this.canvas.clientWidth))
    const h = Math.max(20, Math.round(this.canvas.clientHeight))
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w
      this.canvas.height = h
      this.x = 0
      this.lastY = null
    }
  }

  /** Draws the samples that became due during `dtMs`. */
  frame(nowMs, dtMs) {
    this.resize()
    const head = this.queue[0]
    if (!head || head.dueMs > nowMs) return
    this.rateHz = head.rateHz
    this.carry += (dtMs / 1000) * head.rateHz
    // Catch up when far behind (tab was hidden): never more than one second of lag.
    const queued = this.queue.reduce((n, c) => n + c.samples.length - c.i, 0)
    if (queued > head.rateHz) this.carry += queued - head.rateHz
    let n = Math.floor(this.carry)
    this.carry -= n
    const { ctx, canvas } = this
    const w = canvas.width
    const h = canvas.height
    const pxPerSample = w / (WAVE_WINDOW_S * head.rateHz)
    const pxPerUv = (h * 0.4) / 1000 // 1 mV spans 40 % of the strip
    ctx.strokeStyle = '#4cff7a'
    ctx.lineWidth = 1.5
    while (n-- > 0 && this.queue.length > 0) {
      const c = this.queue[0]
      const y = Math.max(1, Math.min(h - 1, h * 0.6 - c.samples[c.i] * pxPerUv))
      if (++c.i >= c.samples.length) this.queue.shift()
      const nx = this.x + pxPerSample
      ctx.clearRect(Math.floor(this.x) + 1, 0, Math.ceil(pxPerSample) + 8, h)
      if (this.lastY !== null) {
        ctx.beginPath()
        ctx.moveTo(this.x, this.lastY)
        ctx.lineTo(nx, y)
        ctx.stroke()
      }
      this.lastY = y
      this.x = nx
      if (this.x >= w) {
        this.x = 0
        this.lastY = null
      }
    }
  }
}

window.BedsideEcgStrip = Strip
})()
