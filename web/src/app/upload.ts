// File uploads over HTTP (section 17): hash the file (sha256, in slices so
// a large file never sits in memory whole), offer it on the chat
// connection, then send it with tus 1.0 core: HEAD for the offset the
// server holds, PATCH from there. A failed PATCH (a dropped connection, the
// server restarting) is retried with backoff from the offset HEAD reports,
// so an upload resumes instead of starting over.
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { backoff } from '../net/connection'

export interface UploadProgress {
  sent: number
  state: 'hashing' | 'uploading' | 'retrying'
}

export interface UploadOptions {
  /** offer tells the chat server about the file and returns where to upload it. */
  offer: (sha256: string) => Promise<{ url: string; token: string }>
  progress: (p: UploadProgress) => void
  /** attempts after failures before giving up */
  retries?: number
}

const HASH_SLICE = 4 << 20

/** chunkSize keeps PATCH bodies small enough to resume cheaply and few enough for large files. */
export function chunkSize(size: number): number {
  return Math.max(1 << 20, Math.ceil(size / 8))
}

export async function hashFile(file: Blob, progress?: (done: number) => void): Promise<string> {
  const h = sha256.create()
  for (let off = 0; off < file.size; off += HASH_SLICE) {
    h.update(new Uint8Array(await file.slice(off, off + HASH_SLICE).arrayBuffer()))
    progress?.(Math.min(file.size, off + HASH_SLICE))
  }
  return bytesToHex(h.digest())
}

/** HTTPError is a tus request answered with a status that retrying cannot fix. */
export class HTTPError extends Error {
  constructor(readonly status: number, text: string) {
    super(`HTTP ${status}${text ? ': ' + text : ''}`)
  }
}

async function headOffset(url: string, token: string): Promise<number> {
  const r = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}` }, cache: 'no-store' })
  if (!r.ok) throw new HTTPError(r.status, '')
  return Number(r.headers.get('Upload-Offset') ?? 0)
}

/** patch sends body at offset with XHR (fetch has no upload progress). */
function patch(url: string, token: string, offset: number, body: Blob, onSent: (n: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest()
    x.open('PATCH', url)
    x.setRequestHeader('Tus-Resumable', '1.0.0')
    x.setRequestHeader('Authorization', `Bearer ${token}`)
    x.setRequestHeader('Content-Type', 'application/offset+octet-stream')
    x.setRequestHeader('Upload-Offset', String(offset))
    x.upload.onprogress = (e) => onSent(e.loaded)
    x.onload = () => {
      if (x.status === 204) resolve(Number(x.getResponseHeader('Upload-Offset') ?? offset + body.size))
      else reject(new HTTPError(x.status, x.responseText.trim()))
    }
    x.onerror = () => reject(new Error('upload connection lost'))
    x.send(body)
  })
}

/** uploadFile hashes, offers and uploads file; it resolves when the server verified it. */
export async function uploadFile(file: File, o: UploadOptions): Promise<void> {
  const digest = await hashFile(file, (n) => o.progress({ sent: n, state: 'hashing' }))
  const { url, token } = await o.offer(digest)
  const chunk = chunkSize(file.size)
  let offset = 0
  let failures = 0
  let fresh = true
  for (;;) {
    try {
      if (!fresh) offset = await headOffset(url, token)
      fresh = false
      if (offset >= file.size && file.size > 0) return
      o.progress({ sent: offset, state: 'uploading' })
      const end = Math.min(file.size, offset + chunk)
      offset = await patch(url, token, offset, file.slice(offset, end), (n) => o.progress({ sent: offset + n, state: 'uploading' }))
      failures = 0
      if (offset >= file.size) return
      fresh = true // the reply named the new offset
    } catch (e) {
      // 4xx other than a conflict will not heal: a bad token, a checksum mismatch.
      if (e instanceof HTTPError && e.status >= 400 && e.status < 500 && e.status !== 409) throw e
      if (++failures > (o.retries ?? 8)) throw e
      o.progress({ sent: offset, state: 'retrying' })
      await new Promise((r) => setTimeout(r, backoff(failures - 1)))
    }
  }
}
