// The frame layout of section 1: length (uint32 BE, bytes after itself),
// op (uint16 BE), req_id (uint32 BE), body (JSON, or bytes for the binary
// ops). Over WebSocket each binary message carries exactly one frame.
import { isBinaryOp } from './ops'

export const HEADER_SIZE = 10

/** A decoded frame: body is parsed JSON, or the raw bytes of a binary op. */
export interface Frame {
  op: number
  reqId: number
  body: any
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

/** encodeFrame lays out one frame; body is JSON-encoded unless it is bytes. */
export function encodeFrame(op: number, reqId: number, body: unknown): Uint8Array {
  const payload = body instanceof Uint8Array ? body : utf8.encode(JSON.stringify(body ?? {}))
  const out = new Uint8Array(HEADER_SIZE + payload.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, 6 + payload.length)
  view.setUint16(4, op)
  view.setUint32(6, reqId >>> 0)
  out.set(payload, HEADER_SIZE)
  return out
}

/** FrameError is a frame that breaks the layout or carries invalid JSON. */
export class FrameError extends Error {}

/**
 * decodeFrame reads exactly one frame from buf (a WebSocket message); bytes
 * beyond it or a short frame are errors. JSON bodies must be objects.
 */
export function decodeFrame(buf: ArrayBuffer | Uint8Array): Frame {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf)
  if (bytes.length < HEADER_SIZE) throw new FrameError(`frame of ${bytes.length} bytes is shorter than its header`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = view.getUint32(0)
  if (length < 6 || length + 4 !== bytes.length) {
    throw new FrameError(`frame length ${length} does not match the ${bytes.length - 4} bytes that follow it`)
  }
  const op = view.getUint16(4)
  const reqId = view.getUint32(6)
  const payload = bytes.subarray(HEADER_SIZE)
  if (isBinaryOp(op)) return { op, reqId, body: payload }
  let body: unknown
  try {
    body = JSON.parse(fromUtf8.decode(payload))
  } catch (e) {
    throw new FrameError(`body of op 0x${op.toString(16)} is not JSON: ${(e as Error).message}`)
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new FrameError(`body of op 0x${op.toString(16)} is not a JSON object`)
  }
  return { op, reqId, body }
}

/** mediaRequest is the room.media body: room_id (uint64 BE) + payload. */
export function mediaRequest(roomId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(roomId))
  out.set(payload, 8)
  return out
}

/** MediaPush is a room.media push: room_id + sender user_id + payload. */
export interface MediaPush {
  roomId: number
  from: number
  payload: Uint8Array
}

export function parseMediaPush(body: Uint8Array): MediaPush {
  if (body.length < 16) throw new FrameError('room.media push shorter than its ids')
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  return {
    roomId: Number(view.getBigUint64(0)),
    from: Number(view.getBigUint64(8)),
    payload: body.subarray(16),
  }
}
