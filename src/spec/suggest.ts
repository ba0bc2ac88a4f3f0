/**
 * "Did you mean" for unknown keys: Levenshtein distance, case-insensitive first because the usual
 * slip is `podCidr` for `podCIDR`.
 */

/** Levenshtein edit distance (insert, delete, substitute; each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * The known key closest to `key`, if it is close enough to be a plausible typo
 * (distance ≤ max(2, a third of its length), compared case-insensitively).
 */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  if (key.length > 200) return undefined;
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const cand of known) {
    const d = editDistance(k, cand.toLowerCase());
    if (d < bestD) {
      best = cand;
      bestD = d;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}
