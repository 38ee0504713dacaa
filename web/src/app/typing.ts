// Typing notices: the server pushes at most one per user and conversation
// every 3 s and silently drops repeats inside that window, so the client
// paces its own notices to the same window. A keystroke inside the window is
// not forgotten: it earns one notice when the window ends, unless the text
// was sent or cleared first. Without that trailing notice, someone who starts
// a new message just after sending one shows as not typing at all.

/** TYPING_WINDOW_MS is the server's 3 s window plus a margin for jitter. */
export const TYPING_WINDOW_MS = 3100

/** TypingPacer decides when to send msg.typing for each conversation. */
export class TypingPacer {
  private last = new Map<string, number>()
  private pending = new Map<string, ReturnType<typeof setTimeout>>()

  constructor(
    private send: (conv: string) => void,
    private now: () => number = Date.now,
  ) {}

  /** typed records a keystroke in conv. */
  typed(conv: string): void {
    if (this.pending.has(conv)) return
    const wait = (this.last.get(conv) ?? -Infinity) + TYPING_WINDOW_MS - this.now()
    if (wait <= 0) {
      this.fire(conv)
      return
    }
    this.pending.set(
      conv,
      setTimeout(() => {
        this.pending.delete(conv)
        this.fire(conv)
      }, wait),
    )
  }

  /** stopped cancels a notice still waiting for its window: the text was sent or cleared. */
  stopped(conv: string): void {
    clearTimeout(this.pending.get(conv))
    this.pending.delete(conv)
  }

  private fire(conv: string): void {
    this.last.set(conv, this.now())
    this.send(conv)
  }
}
