/**
 * The job stream shared by a run's workers, asked by one worker at a time. An async generator keeps
 * the callers waiting on it in a linked list that V8 walks to its end for every new `next()`: with
 * hundreds of workers waiting, that walk was half the time a rerun took to copy its rows. Here the
 * workers queue on a chain of promises instead, and the generator only ever sees one of them.
 */
export function takeTurns<T>(source: AsyncIterator<T>): AsyncIterator<T> {
  let turn: Promise<unknown> = Promise.resolve();
  return {
    next() {
      const next = turn.then(() => source.next());
      turn = next.catch(() => undefined);
      return next;
    },
  };
}
