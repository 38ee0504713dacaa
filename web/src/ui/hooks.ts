// Small hooks: re-render on state changes, and the virtualizer adapter.
import { useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks'
import { elementScroll, measureElement, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core'
import type { Controller } from '../app/controller'

/** useStore re-renders the component after state changes, at most once per frame. */
export function useStore(c: Controller): number {
  const [v, bump] = useReducer((x: number) => x + 1, 0)
  useEffect(() => {
    let queued = false
    return c.state.subscribe(() => {
      if (queued) return
      queued = true
      const run = () => {
        queued = false
        bump(0)
      }
      // No frames come to a hidden tab; the title's unread count must still change.
      if (document.hidden) setTimeout(run, 50)
      else requestAnimationFrame(run)
    })
  }, [c])
  return v
}

/** useAsync resolves p once per key. */
export function useAsync<T>(key: unknown, fn: () => Promise<T> | undefined): T | undefined {
  const [v, setV] = useState<T | undefined>(undefined)
  useEffect(() => {
    let live = true
    setV(undefined)
    fn()?.then((x) => live && setV(x)).catch(() => {})
    return () => {
      live = false
    }
  }, [key])
  return v
}

/** useVirtualizer renders only the visible rows of a long list (@tanstack/virtual-core). */
export function useVirtualizer(count: number, getScrollElement: () => HTMLElement | null, itemKey: (i: number) => string | number) {
  const [, rerender] = useReducer((x: number) => x + 1, 0)
  // One key function for the list's life: the virtualizer recomputes every
  // row's position whenever the function changes, which on each render of a
  // 10,000-message list would cost a long task per scroll step.
  const keyRef = useRef(itemKey)
  keyRef.current = itemKey
  const getItemKey = useCallback((i: number) => keyRef.current(i), [])
  const v = useMemo(
    () =>
      new Virtualizer<HTMLElement, HTMLElement>({
        count,
        getScrollElement,
        estimateSize: () => 64,
        overscan: 6,
        observeElementRect,
        observeElementOffset,
        scrollToFn: elementScroll,
        measureElement,
        getItemKey,
        onChange: () => rerender(0),
      }),
    [],
  )
  v.setOptions({ ...v.options, count, getItemKey })
  useLayoutEffect(() => v._didMount(), [])
  useLayoutEffect(() => v._willUpdate())
  return v
}
