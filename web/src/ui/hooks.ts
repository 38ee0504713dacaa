// Small hooks: re-render on state changes, and the virtualizer adapter.
import { useEffect, useLayoutEffect, useMemo, useReducer, useState } from 'preact/hooks'
import { elementScroll, measureElement, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core'
import type { Controller } from '../app/controller'

/** useStore re-renders the component on every state change, at most once per frame. */
export function useStore(c: Controller): number {
  const [v, bump] = useReducer((x: number) => x + 1, 0)
  useEffect(() => {
    let queued = false
    return c.state.subscribe(() => {
      if (queued) return
      queued = true
      requestAnimationFrame(() => {
        queued = false
        bump(0)
      })
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
export function useVirtualizer(count: number, getScrollElement: () => HTMLElement | null, getItemKey: (i: number) => string | number) {
  const [, rerender] = useReducer((x: number) => x + 1, 0)
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
