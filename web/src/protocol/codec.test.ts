import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { decodeFrame, encodeFrame, FrameError, mediaRequest, parseMediaPush } from './codec'
import { Op, Push } from './ops'

// The golden vectors the Go encoder is tested against.
const vectors: Array<{ name: string; kind: string; op: number; op_name: string; req_id: number; hex: string; body: any }> =
  JSON.parse(readFileSync(new URL('../../../protocol/testdata/vectors.json', import.meta.url), 'utf8'))

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((x) => parseInt(x, 16)))

describe('frame codec against protocol/testdata/vectors.json', () => {
  it('has vectors', () => expect(vectors.length).toBeGreaterThan(40))
  for (const v of vectors) {
    it(v.name, () => {
      const known = { ...Op, ...Push } as Record<string, number>
      if (v.op_name in known && !v.op_name.startsWith('file.upload') && !v.op_name.startsWith('file.download')) {
        // op names agree with the Go side (room.media names both directions)
        const table: Record<string, number> = v.kind === 'push' || !(v.op_name in Op) ? Push : Op
        expect(table[v.op_name]).toBe(v.op)
      }
      if (v.op_name === 'room.media') {
        if (v.kind === 'push') {
          const f = decodeFrame(unhex(v.hex))
          const m = parseMediaPush(f.body)
          expect([f.op, f.reqId, m.roomId, m.from, hex(m.payload)]).toEqual([v.op, v.req_id, v.body.room_id, v.body.from, v.body.payload_hex])
        } else {
          expect(hex(encodeFrame(v.op, v.req_id, mediaRequest(v.body.room_id, unhex(v.body.payload_hex))))).toBe(v.hex)
        }
        return
      }
      expect(hex(encodeFrame(v.op, v.req_id, v.body))).toBe(v.hex)
      const f = decodeFrame(unhex(v.hex))
      expect(f).toEqual({ op: v.op, reqId: v.req_id, body: v.body })
    })
  }
})

describe('frame codec rejects broken frames', () => {
  it('short header', () => expect(() => decodeFrame(new Uint8Array(9))).toThrow(FrameError))
  it('length not matching the message', () => {
    const f = encodeFrame(Op.ping, 1, {})
    expect(() => decodeFrame(f.subarray(0, f.length - 1))).toThrow(FrameError)
    const longer = new Uint8Array(f.length + 1)
    longer.set(f)
    expect(() => decodeFrame(longer)).toThrow(FrameError)
  })
  it('a body that is not a JSON object', () => {
    expect(() => decodeFrame(encodeFrame(Op.ping, 1, new TextEncoder().encode('[1]')))).toThrow(FrameError)
    expect(() => decodeFrame(encodeFrame(Op.ping, 1, new TextEncoder().encode('{')))).toThrow(FrameError)
  })
  it('Chinese text survives a round trip', () => {
    const body = { body: '你好，世界 👋' }
    expect(decodeFrame(encodeFrame(Op['msg.send'], 7, body)).body).toEqual(body)
  })
})
