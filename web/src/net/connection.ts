// One chat connection over WebSocket (section 17): requests matched to
// replies by req_id, pushes handed to a listener, a ping every 30 s, and
// reconnection with exponential backoff and jitter. What to do after a
// reconnect (log in again with the token, resync) is the caller's: it gets
// an 'open' status and decides.
import { decodeFrame, encodeFrame, FrameError, mediaRequest } from '../protocol/codec'
import { Op, OpName, pushName, PushName } from '../protocol/ops'

export type Status = 'connecting' | 'open' | 'closed'

/** ReplyError is a reply whose code is not OK. */
export class ReplyError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly body: any,
  ) {
    super(message || code)
  }
}

interface Pending {
  resolve: (v: any) => void
  reject: (e: Error) => void
  timer: ReturnType<typeof setTimeout>
}

export interface ConnectionOptions {
  url: string
  onPush: (name: PushName, body: any) => void
  onStatus: (s: Status) => void
  /** request timeout, ms */
  timeout?: number
  /** WebSocket constructor (tests pass a fake) */
  WebSocketImpl?: typeof WebSocket
}

/** backoff returns the delay before reconnect attempt n (0-based): 0.5 s doubling to 15 s, with ±30% jitter. */
export function backoff(n: number, random = Math.random): number {
  const base = Math.min(15000, 500 * 2 ** n)
  return Math.round(base * (0.7 + 0.6 * random()))
}

/** Media frames are dropped, never queued, while this much is unsent. */
export const MEDIA_HIGH_WATER = 256 << 10

export class Connection {
  private ws?: WebSocket
  private nextId = 1
  private pending = new Map<number, Pending>()
  private attempts = 0
  private stopped = false
  private pingTimer?: ReturnType<typeof setInterval>
  private retryTimer?: ReturnType<typeof setTimeout>
  status: Status = 'closed'

  constructor(private opts: ConnectionOptions) {}

  /** start connects, and keeps reconnecting until stop. */
  start(): void {
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.retryTimer)
    this.ws?.close(1000)
    this.teardown(new Error('stopped'))
  }

  /** reconnectNow skips the backoff wait (the browser came back online). */
  reconnectNow(): void {
    if (this.status !== 'closed' || this.stopped) return
    clearTimeout(this.retryTimer)
    this.connect()
  }

  private setStatus(s: Status) {
    this.status = s
    this.opts.onStatus(s)
  }

  private connect() {
    const WS = this.opts.WebSocketImpl ?? WebSocket
    this.setStatus('connecting')
    let ws: WebSocket
    try {
      ws = new WS(this.opts.url, 'chatd.v1')
    } catch {
      this.scheduleRetry()
      return
    }
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    ws.onopen = () => {
      this.attempts = 0
      this.pingTimer = setInterval(() => this.request('ping', {}).catch(() => {}), 30000)
      this.setStatus('open')
    }
    ws.onmessage = (ev) => this.receive(ev.data)
    ws.onclose = () => {
      if (this.ws !== ws) return
      this.teardown(new Error('connection lost'))
      this.scheduleRetry()
    }
  }

  private teardown(err: Error) {
    clearInterval(this.pingTimer)
    this.ws = undefined
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.pending.clear()
    if (this.status !== 'closed') this.setStatus('closed')
  }

  private scheduleRetry() {
    if (this.stopped) return
    if (this.status !== 'closed') this.setStatus('closed')
    this.retryTimer = setTimeout(() => this.connect(), backoff(this.attempts++))
  }

  private receive(data: unknown) {
    if (!(data instanceof ArrayBuffer)) return
    let f
    try {
      f = decodeFrame(data)
    } catch (e) {
      if (e instanceof FrameError) console.warn('chatd: dropped a bad frame:', e.message)
      return
    }
    if (f.reqId === 0) {
      const name = pushName(f.op)
      if (name) this.opts.onPush(name, f.body)
      return
    }
    const p = this.pending.get(f.reqId)
    if (!p) return
    this.pending.delete(f.reqId)
    clearTimeout(p.timer)
    if (f.body.code === 'OK') p.resolve(f.body)
    else p.reject(new ReplyError(f.body.code, f.body.message, f.body))
  }

  /** request sends op with body and resolves with the OK reply (rejects with ReplyError otherwise). */
  request<T = any>(op: OpName, body: object): Promise<T> {
    const ws = this.ws
    if (!ws || ws.readyState !== 1) return Promise.reject(new Error('offline'))
    const id = this.nextId
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error('timeout'))
      }, this.opts.timeout ?? 20000)
      this.pending.set(id, { resolve, reject, timer })
      ws.send(encodeFrame(Op[op], id, body))
    })
  }

  /**
   * sendMedia sends one room.media frame unless the socket already has
   * MEDIA_HIGH_WATER bytes waiting: live video drops frames, never queues.
   */
  sendMedia(roomId: number, payload: Uint8Array): boolean {
    const ws = this.ws
    if (!ws || ws.readyState !== 1 || ws.bufferedAmount > MEDIA_HIGH_WATER) return false
    const id = this.nextId
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1
    ws.send(encodeFrame(Op['room.media'], id, mediaRequest(roomId, payload)))
    return true
  }
}
