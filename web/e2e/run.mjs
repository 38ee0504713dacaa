// End-to-end tests of the browser client in headless Chromium against a
// chatd this script builds and starts on random ports. Each scenario is
// one function; the run prints which ran green, and which did not run
// because the server does not announce the feature yet (login reply
// server.features), and exits non-zero on any failure.
//
// Until chatd's chat port speaks WebSocket (it announces "ws"), the page's
// WebSocket is bridged by Playwright to the raw chat port: the same frames,
// one per message, so the client is exercised unchanged.
//
//   node e2e/run.mjs [--screenshots] [--measure]
import { chromium } from 'playwright-core'
import { spawn, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'
import { deflateSync } from 'node:zlib'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')
const out = path.join(here, 'out')
const args = new Set(process.argv.slice(2))
mkdirSync(out, { recursive: true })

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

// ---- chatd -----------------------------------------------------------------

const bin = path.join(out, 'chatd')
execFileSync('go', ['build', '-o', bin, './cmd/chatd'], { cwd: repo, stdio: 'inherit' })
const dataDir = mkdtempSync(path.join(tmpdir(), 'chatd-e2e-'))
const ports = { chat: await freePort(), file: await freePort(), web: await freePort() }
let chatd

async function startChatd() {
  chatd = spawn(bin, ['--chat-addr', `127.0.0.1:${ports.chat}`, '--file-addr', `127.0.0.1:${ports.file}`, '--web-addr', `127.0.0.1:${ports.web}`,
    '--discovery-addr', '', '--admin-addr', '', '--data-dir', dataDir, '--log-level', 'warn', '--log-format', 'json', '--msg-rate', '1000', '--msg-burst', '1000'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let text = ''
    chatd.stdout.on('data', (d) => {
      text += d
      if (text.includes('web ')) resolve()
    })
    chatd.on('exit', (code) => reject(new Error(`chatd exited ${code}`)))
  })
}

// A crash of this script (a browser that will not start, say) must not
// leave chatd running: it holds the terminal's pipes open.
process.on('exit', () => chatd?.exitCode === null && chatd.kill('SIGKILL'))

async function stopChatd() {
  const p = chatd
  p.kill('SIGTERM')
  await new Promise((r) => p.on('exit', r))
}

/** wsOnChatPort reports whether chatd answers a WebSocket upgrade on the chat port. */
function wsOnChatPort() {
  return new Promise((resolve) => {
    const s = net.connect(ports.chat, '127.0.0.1', () => {
      s.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chatd.v1\r\nOrigin: http://127.0.0.1:${ports.web}\r\n\r\n`)
    })
    s.setTimeout(2000, () => (s.destroy(), resolve(false)))
    s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('HTTP/1.1 101'))))
    s.on('error', () => resolve(false))
    s.on('close', () => resolve(false))
  })
}

await startChatd()
const nativeWS = await wsOnChatPort()
const base = `http://127.0.0.1:${ports.web}`

// ---- browser ---------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
})

/** bridge connects a page's WebSocket to the raw chat port, one frame per message. */
async function bridge(ctx) {
  await ctx.routeWebSocket(/\/ws$/, (ws) => {
    const sock = net.connect(ports.chat, '127.0.0.1')
    let buf = Buffer.alloc(0)
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = 4 + buf.readUInt32BE(0)
        ws.send(buf.subarray(0, n))
        buf = buf.subarray(n)
      }
    })
    sock.on('close', () => ws.close({ code: 1001 }))
    sock.on('error', () => {})
    ws.onMessage((m) => sock.write(typeof m === 'string' ? Buffer.from(m) : m))
    ws.onClose(() => sock.destroy())
  })
}

async function newUser(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', permissions: ['camera'], ...opts })
  if (!nativeWS) await bridge(ctx)
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`))
  await page.goto(base)
  return { ctx, page }
}

// ---- scenarios -------------------------------------------------------------

const results = []
let features = []
const has = (f) => features.includes(f)

async function scenario(name, needs, fn) {
  const missing = needs.filter((f) => !has(f))
  if (missing.length) {
    results.push({ name, state: 'not run', why: `server does not announce ${missing.join(', ')}` })
    console.log(`-- ${name}: NOT RUN (server lacks ${missing.join(', ')})`)
    return
  }
  const t0 = Date.now()
  try {
    await fn()
    results.push({ name, state: 'ok' })
    console.log(`ok ${name} (${Date.now() - t0} ms)`)
  } catch (e) {
    results.push({ name, state: 'FAIL', why: e.message })
    console.log(`FAIL ${name}: ${e.stack}`)
    // what each page showed when it failed, for whoever reads the log
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()
    for (const [who, u] of [['alice', alice], ['bob', bob]]) {
      const file = path.join(out, `fail-${slug}-${who}.png`)
      await u.page.screenshot({ path: file }).then(() => console.log(`   screenshot: ${file}`), () => {})
    }
  }
}

const T = 15000
// A rail button's name is its label and, after it, what its badge counts ("Chats 2 unread").
const nav = (page, name) => page.getByRole('navigation').getByRole('button', { name: new RegExp(`^${name}\\b`) }).click()
const log = (page) => page.getByRole('log', { name: 'Message', exact: true })
const composer = (page) => page.getByRole('textbox', { name: 'Message', exact: true })

async function register(page, username, nickname) {
  await page.getByRole('button', { name: 'Create an account' }).click()
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill('correct horse battery')
  await page.getByLabel('Nickname').fill(nickname)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('navigation').waitFor({ timeout: T })
}

async function openChatWith(page, name) {
  await nav(page, 'Chats')
  await page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^${name}`) }).first().click() // by title: a preview may name others
}

const alice = await newUser()
const bob = await newUser()
const run = Date.now().toString(36)
const A = `alice_${run}`
const B = `bob_${run}`

await scenario('register two users', [], async () => {
  await register(alice.page, A, 'Alice')
  await register(bob.page, B, 'Bob')
  features = await alice.page.evaluate(() => window.chatd.state.features)
  console.log(`   server features: [${features.join(', ')}]; WebSocket ${nativeWS ? 'native on the chat port' : 'bridged to the raw chat port'}`)
})

await scenario('befriend (search, request, accept, presence)', [], async () => {
  await nav(alice.page, 'Contacts')
  await alice.page.getByRole('searchbox', { name: 'Find people by name' }).fill(B)
  await alice.page.locator('.side').getByRole('button', { name: 'Search', exact: true }).click()
  await alice.page.getByRole('button', { name: 'Add friend' }).click()
  await nav(bob.page, 'Contacts')
  await bob.page.getByRole('button', { name: 'Accept' }).click({ timeout: T })
  await alice.page.getByRole('button', { name: /Chat: Bob, online/ }).waitFor({ timeout: T })
})

await scenario('chat both ways with read receipts', [], async () => {
  await alice.page.getByRole('button', { name: /Chat: Bob/ }).click()
  await composer(alice.page).fill('hello bob 👋')
  await composer(alice.page).press('Enter')
  await alice.page.getByText('Sent', { exact: true }).waitFor({ timeout: T })
  await openChatWith(bob.page, 'Alice')
  await log(bob.page).getByText('hello bob 👋').waitFor({ timeout: T })
  await alice.page.getByText('Read', { exact: true }).waitFor({ timeout: T })
  await composer(bob.page).fill('hi alice, 你好')
  await composer(bob.page).press('Enter')
  await log(alice.page).getByText('hi alice, 你好').waitFor({ timeout: T })
})

await scenario('typing notice', ['typing'], async () => {
  await composer(bob.page).pressSequentially('typing now', { delay: 30 })
  await alice.page.getByText('Bob is typing…').waitFor({ timeout: T })
  await composer(bob.page).fill('')
})

await scenario('recall', ['recall'], async () => {
  await composer(alice.page).fill('oops, wrong chat')
  await composer(alice.page).press('Enter')
  const msg = alice.page.getByRole('article').filter({ hasText: 'oops, wrong chat' })
  await msg.getByText(/^(Sent|Read)$/).waitFor({ timeout: T }) // Bob has the chat open: it may be read at once
  await log(bob.page).getByText('oops, wrong chat').waitFor({ timeout: T })
  await msg.hover()
  await msg.getByRole('button', { name: 'Recall' }).click()
  await log(bob.page).getByText('Alice recalled a message').waitFor({ timeout: T })
  assert.equal(await log(bob.page).getByText('oops, wrong chat').count(), 0)
})

let groupId = 0
await scenario('group with an @mention', ['mentions'], async () => {
  await nav(alice.page, 'Groups')
  await alice.page.getByLabel('Group name').fill('Weekend plans')
  await alice.page.getByRole('checkbox', { name: 'Bob' }).check()
  await alice.page.getByRole('button', { name: 'Create', exact: true }).click()
  // the new group's view, not the composer of the chat open before it
  await alice.page.getByRole('region', { name: 'Weekend plans' }).getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: T })
  await composer(alice.page).fill('group is up')
  await composer(alice.page).press('Enter')
  // Alice looks at another chat: a mention read as it arrives marks nothing
  await openChatWith(alice.page, 'Bob')
  await openChatWith(bob.page, 'Weekend plans')
  await composer(bob.page).pressSequentially('@Al', { delay: 30 })
  await bob.page.getByRole('option', { name: '@Alice' }).waitFor({ timeout: T })
  await composer(bob.page).press('Enter') // completes
  await composer(bob.page).pressSequentially('see you saturday')
  await composer(bob.page).press('Enter')
  await alice.page.getByRole('list', { name: 'Conversations' }).getByText('[@me]').waitFor({ timeout: T })
  groupId = await alice.page.evaluate(() => [...window.chatd.state.groups.keys()][0])
})

/** pngOf makes a w×h PNG of one colour. */
function pngOf(w, h, rgb) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (b) => {
    let c = 0xffffffff
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type), data])
    const c = Buffer.alloc(4)
    c.writeUInt32BE(crc(td))
    return Buffer.concat([len, td, c])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8
  ihdr[9] = 2
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, 0).map((_, i) => rgb[i % 3])])
  const raw = Buffer.concat(Array.from({ length: h }, () => row))
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'binary'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

await scenario('file upload cut and resumed', [], async () => {
  await nav(alice.page, 'Contacts')
  await alice.page.getByRole('button', { name: /Chat: Bob/ }).click()
  await openChatWith(bob.page, 'Alice')
  const data = Buffer.alloc(3 << 20)
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff
  const offsets = []
  let cut = false
  await alice.page.route('**/files/*', async (route) => {
    const req = route.request()
    if (req.method() === 'PATCH') {
      const off = Number(req.headers()['upload-offset'])
      offsets.push(off)
      if (off > 0 && !cut) {
        cut = true
        return route.abort('connectionreset') // the second chunk dies on the way
      }
    }
    return route.continue()
  })
  await alice.page.locator('input[type=file]').first().setInputFiles({ name: 'report.bin', mimeType: 'application/octet-stream', buffer: data })
  await log(bob.page).getByText('report.bin').waitFor({ timeout: 30000 })
  await alice.page.unroute('**/files/*')
  assert.ok(cut, `no chunk was cut (PATCH offsets ${offsets})`)
  const resumed = offsets.filter((o) => o > 0)
  assert.ok(resumed.length >= 2 && resumed[1] === resumed[0], `not resumed from the held offset: PATCH offsets ${offsets}`)
  // the bytes that arrive are the bytes sent
  const href = await bob.page.getByRole('link', { name: 'Download' }).last().getAttribute('href')
  const got = Buffer.from(await (await bob.page.request.get(new URL(href, base).href)).body())
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'))
})

await scenario('inline image', [], async () => {
  await alice.page.locator('input[type=file]').first().setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: pngOf(120, 80, [240, 120, 40]) })
  const img = bob.page.getByRole('img', { name: 'sunset.png' })
  await img.waitFor({ timeout: T })
  await bob.page.waitForFunction((el) => el.complete && el.naturalWidth === 120, await img.elementHandle(), { timeout: T })
})

let roomId = 0
await scenario('meeting: each sees the other\'s video frames change', [], async () => {
  await nav(alice.page, 'Meetings')
  await alice.page.getByLabel('Meeting name').fill('Standup')
  await alice.page.getByRole('button', { name: 'New meeting' }).click()
  await alice.page.getByRole('button', { name: 'Camera on' }).waitFor({ timeout: T })
  roomId = await alice.page.evaluate(() => [...window.chatd.state.rooms.keys()][0])
  await nav(bob.page, 'Meetings')
  await bob.page.getByLabel('Meeting id').fill(String(roomId))
  await bob.page.getByRole('button', { name: 'Join meeting' }).click()
  await alice.page.getByRole('button', { name: 'Camera on' }).click()
  await bob.page.getByRole('button', { name: 'Camera on' }).click()
  for (const [viewer, other] of [[alice.page, bob.page], [bob.page, alice.page]]) {
    const uid = await other.evaluate(() => window.chatd.state.myId)
    const sel = `img[data-user="${uid}"]`
    await viewer.locator(sel).waitFor({ timeout: T })
    const first = await viewer.locator(sel).getAttribute('src')
    await viewer.waitForFunction(([s, f]) => document.querySelector(s)?.getAttribute('src') !== f, [sel, first], { timeout: T })
  }
})

await scenario('axe-core: no serious or critical violations', [], async () => {
  const axe = readFileSync(path.join(here, '../node_modules/axe-core/axe.min.js'), 'utf8')
  const pages = [['chat', bob.page]]
  const login = (await newUser()).page
  pages.push(['login', login])
  const bad = []
  for (const [label, page] of pages) {
    await page.evaluate(axe) // evaluated by the debugger, so the page's CSP does not apply
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }))
    for (const v of r.violations) if (v.impact === 'serious' || v.impact === 'critical') bad.push(`${label}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)
  }
  assert.deepEqual(bad, [])
})

await scenario('chatd restart survived', [], async () => {
  await openChatWith(alice.page, 'Bob')
  await stopChatd()
  await alice.page.getByRole('status').filter({ hasText: /Offline|Connecting/ }).first().waitFor({ timeout: T })
  await startChatd()
  await alice.page.getByRole('status').filter({ hasText: /Offline|Connecting/ }).first().waitFor({ state: 'detached', timeout: 30000 })
  await bob.page.getByRole('status').filter({ hasText: /Offline|Connecting/ }).first().waitFor({ state: 'detached', timeout: 30000 })
  await composer(alice.page).fill('still here after the restart')
  await composer(alice.page).press('Enter')
  await openChatWith(bob.page, 'Alice')
  await log(bob.page).getByText('still here after the restart').waitFor({ timeout: T })
  assert.equal(await log(bob.page).getByText('still here after the restart').count(), 1)
})

// ---- screenshots and measurements -----------------------------------------

if (args.has('--screenshots')) {
  const docs = path.join(repo, 'docs')
  await openChatWith(alice.page, 'Bob')
  await alice.page.waitForTimeout(500)
  await alice.page.screenshot({ path: path.join(docs, 'web-desktop.png') })
  const phone = await newUser({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
  await phone.page.getByLabel('Username').fill(B)
  await phone.page.getByLabel('Password').fill('correct horse battery')
  await phone.page.getByRole('button', { name: 'Log in' }).click()
  await phone.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /Alice/ }).first().click({ timeout: T })
  await phone.page.waitForTimeout(500)
  await phone.page.screenshot({ path: path.join(docs, 'web-phone.png') })
  const zh = await newUser({ locale: 'zh-CN' })
  await zh.page.getByLabel('用户名').fill(A)
  await zh.page.getByLabel('密码').fill('correct horse battery')
  await zh.page.getByRole('button', { name: '登录' }).click()
  await zh.page.getByRole('navigation').waitFor({ timeout: T })
  await zh.page.getByRole('list', { name: '会话列表' }).getByRole('button').first().click()
  await zh.page.waitForTimeout(500)
  await zh.page.screenshot({ path: path.join(docs, 'web-chinese.png') })
  if (roomId) {
    await nav(alice.page, 'Meetings')
    await alice.page.getByRole('list', { name: 'Meetings' }).getByRole('button').first().click()
    await alice.page.waitForTimeout(1500)
    await alice.page.screenshot({ path: path.join(docs, 'web-meeting.png') })
  }
  console.log('screenshots saved under docs/')
}

if (args.has('--measure')) {
  const m = {}
  // page open → conversation list, with a saved session (a returning user)
  const p = alice.page
  const times = []
  for (let i = 0; i < 5; i++) {
    await p.reload()
    await p.getByRole('list', { name: 'Conversations' }).waitFor({ timeout: T })
    times.push(await p.evaluate(() => performance.now()))
  }
  times.sort((a, b) => a - b)
  m.open_to_conversation_list_ms = { median: Math.round(times[2]), max: Math.round(times[4]), runs: times.map(Math.round) }
  console.log('measured page open:', JSON.stringify(m.open_to_conversation_list_ms))
  // scrolling 10,000 messages: long tasks over 50 ms while scrolling top to bottom
  m.scroll_10k = await p.evaluate(async () => {
    const c = window.chatd
    const me = c.state.myId
    const conv = `p:${me}:999999`
    const now = Date.now() - 10000 * 60000
    for (let i = 1; i <= 10000; i++)
      c.state.addMessage({ msg_id: i, conv, seq: i, from: i % 3 ? me : 999999, ts: now + i * 60000, type: 'text', body: `message ${i} ` + 'lorem ipsum '.repeat(i % 7), client_msg_id: '' }, { notify: false })
    c.state.changed()
    return conv
  })
  // open that conversation through the UI state and scroll it
  await p.evaluate(() => window.chatd.state.changed())
  await nav(p, 'Chats')
  await p.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /#999999/ }).first().click({ timeout: T })
  await p.waitForTimeout(500)
  m.scroll_10k = await p.evaluate(async (conv) => {
    const el = document.querySelector('.messages')
    const long = []
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => long.push(e.duration)))
    obs.observe({ type: 'longtask', buffered: false })
    const t0 = performance.now()
    const rendered = []
    // a frame, or 100 ms when frames are not delivered (a page in the background)
    const frame = () => new Promise((r) => { requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 100) })
    const step = el.clientHeight * 0.8
    for (let y = el.scrollHeight; y > 0 && performance.now() - t0 < 60000; y -= step) {
      el.scrollTop = y
      await frame()
      rendered.push(el.querySelectorAll('.row').length)
    }
    for (let y = 0; y < el.scrollHeight && performance.now() - t0 < 120000; y += step) {
      el.scrollTop = y
      await frame()
    }
    obs.disconnect()
    return { messages: window.chatd.state.conv(conv).messages.length, steps: rendered.length, max_rows_in_dom: Math.max(...rendered), long_tasks_over_50ms: long.length, longest_task_ms: Math.round(Math.max(0, ...long)), took_ms: Math.round(performance.now() - t0) }
  }, m.scroll_10k)
  console.log('measured scrolling:', JSON.stringify(m.scroll_10k))
  // memory after 50,000 received messages, through the push path's state update
  const cdp = await p.context().newCDPSession(p)
  await cdp.send('HeapProfiler.collectGarbage')
  const before = (await cdp.send('Runtime.getHeapUsage')).usedSize
  await p.evaluate(() => {
    const c = window.chatd
    const me = c.state.myId
    for (let i = 1; i <= 50000; i++) {
      const conv = `p:${900000 + (i % 5)}:999990`
      c.state.addMessage({ msg_id: 100000 + i, conv, seq: Math.ceil(i / 5), from: 999990, ts: Date.now(), type: 'text', body: `received ${i} ` + 'x'.repeat(60), client_msg_id: '' }, { notify: i % 1000 === 0 })
    }
    void me
  })
  await cdp.send('HeapProfiler.collectGarbage')
  const after = (await cdp.send('Runtime.getHeapUsage')).usedSize
  m.heap_after_50k_received = { before_mb: +(before / 1048576).toFixed(1), after_mb: +(after / 1048576).toFixed(1) }
  // first-load bytes, as the server sends them
  const idx = await (await fetch(base + '/')).text()
  let gz = 0
  for (const a of idx.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
    // node:http, not fetch: fetch decompresses and hides the bytes on the wire
    gz += await new Promise((resolve, reject) =>
      http.get(base + a[1], { headers: { 'Accept-Encoding': 'gzip' } }, (r) => {
        let n = 0
        r.on('data', (d) => (n += d.length))
        r.on('end', () => resolve(n))
      }).on('error', reject),
    )
  }
  m.first_load_js_css_gzip_bytes = gz
  console.log('measurements:', JSON.stringify(m, null, 1))
  writeFileSync(path.join(out, 'measurements.json'), JSON.stringify(m, null, 1))
}

// ---- report ----------------------------------------------------------------

await browser.close()
await stopChatd()
rmSync(dataDir, { recursive: true, force: true })
const failed = results.filter((r) => r.state === 'FAIL')
console.log(`\n${results.filter((r) => r.state === 'ok').length} ok, ${failed.length} failed, ${results.filter((r) => r.state === 'not run').length} not run`)
for (const r of results) console.log(`  ${r.state.padEnd(7)} ${r.name}${r.why ? ` — ${r.why}` : ''}`)
process.exit(failed.length ? 1 : 0)
