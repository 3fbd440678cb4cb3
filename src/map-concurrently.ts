/** Items under way at once by default: each may hold a descriptor, a stat result and a few promises. */
const IN_FLIGHT = 128;

/**
 * `map` of every item, in the items' order, at most `inFlight` at once: a new one starts as soon as one ends, so
 * threads fed through `map` never wait for a whole batch, and thousands of items never hold thousands of promises
 * (which V8 keeps long enough to grow the heap by tens of MB). After a failure no new item starts, and the first
 * error is thrown once those under way have ended: nothing is still running, or writing, when the caller handles it.
 */
export async function mapConcurrently<T, R>(items: readonly T[], map: (item: T, index: number) => Promise<R>, inFlight = IN_FLIGHT): Promise<R[]> {
  if (!(Number.isInteger(inFlight) && inFlight >= 1)) throw new RangeError(`mapConcurrently: inFlight must be a whole number from 1, not ${inFlight}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await map(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, lane));
  if (failure) throw failure.error;
  return results;
}
