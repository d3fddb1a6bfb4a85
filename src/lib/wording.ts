/**
 * Counts in messages the library writes for operators (errors, check details): "1 bucket",
 * "2 buckets", with the verb that agrees. The library never imports the UI; the UI's own
 * `plural` is this one.
 */

/** `1 object version`, `2 object versions`; `plural` for a noun whose plural is not `-s`. */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`
}

/** `is` or `are`, `has` or `have`, … as `count` wants. */
export function agree(count: number, one: string, many: string): string {
  return count === 1 ? one : many
}
