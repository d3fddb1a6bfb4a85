/**
 * The two stream tools migrate needs to run in constant memory: a peekable cursor over a sorted
 * listing (for merge-joins of source, target and evidence), and an ordered, bounded map that
 * runs work concurrently but hands results on in input order, with at most `window` items
 * between the oldest unfinished one and the newest started.
 */

/** A cursor over an async iterable that can look at its next item without taking it. */
/** A stream of nothing. */
export async function* emptyStream<T>(): AsyncGenerator<T> {}

export class Cursor<T> {
  private readonly iterator: AsyncIterator<T>
  private buffered: IteratorResult<T> | undefined

  constructor(iterable: AsyncIterable<T>) {
    this.iterator = iterable[Symbol.asyncIterator]()
  }

  async peek(): Promise<T | undefined> {
    this.buffered ??= await this.iterator.next()
    return this.buffered.done ? undefined : this.buffered.value
  }

  async take(): Promise<T | undefined> {
    const item = await this.peek()
    this.buffered = undefined
    return item
  }

  /** Takes items while `before(item)` holds, handing each to `skipped`; returns the next one (not taken). */
  async skipWhile(before: (item: T) => boolean, skipped?: (item: T) => void): Promise<T | undefined> {
    for (let item = await this.peek(); item !== undefined; item = await this.peek()) {
      if (!before(item)) return item
      await this.take()
      skipped?.(item)
    }
    return undefined
  }

  async close(): Promise<void> {
    await this.iterator.return?.()
  }
}

/**
 * Runs `work` for each item (through `limit`, a concurrency limiter shared with other work) and
 * passes the results to `emit` in input order. At most `window` items are started ahead of the
 * oldest one not yet emitted, so memory stays bounded whatever the number of items. The first
 * failure stops new work; every result of work that succeeded is still emitted, in order, and
 * the failure is raised once the work already started has settled.
 */
export async function orderedMap<T, R>(
  items: AsyncIterable<T>,
  work: (item: T) => Promise<R>,
  emit: (result: R) => Promise<void> | void,
  options: {window: number; limit: <V>(task: () => Promise<V>) => Promise<V>},
): Promise<void> {
  const pending: Promise<{ok: true; value: R} | {ok: false; error: unknown}>[] = []
  let failure: {error: unknown} | undefined
  const drainOne = async () => {
    const settled = await pending.shift()!
    // Work that succeeded is emitted even after a failure elsewhere: it happened (a copy that
    // landed must still get its evidence line).
    if (!settled.ok) failure ??= {error: settled.error}
    else await emit(settled.value)
  }
  try {
    for await (const item of items) {
      if (failure) break
      while (pending.length >= options.window) await drainOne()
      if (failure) break
      pending.push(
        options
          .limit(async () => {
            if (failure) throw new Error('not started: an earlier item failed')
            return work(item)
          })
          .then(
            (value) => ({ok: true as const, value}),
            (error: unknown) => {
              failure ??= {error}
              return {ok: false as const, error}
            },
          ),
      )
    }
  } finally {
    while (pending.length > 0) await drainOne().catch(() => {})
  }
  if (failure) throw failure.error
}
