import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TYPING_WINDOW_MS, TypingPacer } from './typing'

describe('TypingPacer', () => {
  let sent: string[]
  let p: TypingPacer
  beforeEach(() => {
    vi.useFakeTimers()
    sent = []
    p = new TypingPacer((conv) => sent.push(conv), () => Date.now())
  })
  afterEach(() => vi.useRealTimers())

  it('sends the first keystroke at once and nothing more inside the window', () => {
    p.typed('p:1:2')
    p.typed('p:1:2')
    p.typed('p:1:2')
    expect(sent).toEqual(['p:1:2'])
  })

  it('sends one trailing notice when the window ends after keystrokes inside it', () => {
    p.typed('p:1:2')
    vi.advanceTimersByTime(500)
    p.typed('p:1:2')
    p.typed('p:1:2')
    vi.advanceTimersByTime(TYPING_WINDOW_MS - 501)
    expect(sent).toEqual(['p:1:2'])
    vi.advanceTimersByTime(1)
    expect(sent).toEqual(['p:1:2', 'p:1:2'])
    vi.advanceTimersByTime(10 * TYPING_WINDOW_MS)
    expect(sent).toHaveLength(2)
  })

  it('drops the trailing notice when the text is sent or cleared', () => {
    p.typed('g:7')
    p.typed('g:7')
    p.stopped('g:7')
    vi.advanceTimersByTime(10 * TYPING_WINDOW_MS)
    expect(sent).toEqual(['g:7'])
  })

  it('paces each conversation on its own', () => {
    p.typed('g:7')
    p.typed('g:8')
    expect(sent).toEqual(['g:7', 'g:8'])
  })
})
