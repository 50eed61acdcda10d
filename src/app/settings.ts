/**
 * Resuming with other settings is refused, naming the setting: a run continued with another
 * `--subset` or `--epochs` once showed `step 10/4` and trained at learning rate 0. The
 * degradation study's resume and the training job's resume both ask this one function.
 */

/** Settings that may differ between a run and its resumption: where it writes, where from. */
export const RESUME_MAY_DIFFER: readonly string[] = ["out", "resume"];

/**
 * Throws, naming the first setting whose value differs between `saved` (the run being resumed)
 * and `now`, unless it is in `ignore`. Values compare as JSON, so an unset setting equals a
 * missing one.
 */
export function checkSameSettings(
  saved: Record<string, unknown>,
  now: Record<string, unknown>,
  where: string,
  advice: string,
  opts: { ignore?: readonly string[]; nowLabel?: string } = {},
): void {
  const ignore = opts.ignore ?? RESUME_MAY_DIFFER;
  const keys = new Set([...Object.keys(now), ...Object.keys(saved)]);
  for (const key of keys) {
    if (ignore.includes(key)) continue;
    // Keys only one side knows of that the other never had (an adapter recorded in
    // config.json, say) are not settings of the run.
    if (!(key in now)) continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(now[key])) {
      throw new Error(
        `${where} was trained with ${key} = ${JSON.stringify(saved[key]) ?? "unset"}, ` +
          `${opts.nowLabel ?? "this run"} has ${JSON.stringify(now[key]) ?? "unset"}: ${advice}`,
      );
    }
  }
}
