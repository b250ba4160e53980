/**
 * "Did you mean" hints for names that do not exist: the known names closest to what was asked
 * for, by edit distance, so a typo in a view, feature or key is answered with the right spelling.
 *
 * A hint is a courtesy, so its cost is bounded: one hint looks at no more than
 * {@link MAX_HINT_CANDIDATES} known names, gives none for a name longer than
 * {@link MAX_HINT_NAME_CHARS}, and stops measuring a candidate once it is too far away. A request
 * that names many unknown things gets hints for its first few only ({@link HintBudget}).
 */

/** Longest name a hint is looked for (a longer one is no typo). */
export const MAX_HINT_NAME_CHARS = 128;
/** Known names one hint compares with at most. */
export const MAX_HINT_CANDIDATES = 2000;
/** Unknown names one request gets hints for; the others are reported without one. */
export const MAX_HINTED_NAMES = 5;

/** Known names at most a third of the name's length (and at least 2) edits away, closest first, at most `limit`. */
export function closestNames(name: string, known: Iterable<string>, limit = 3): string[] {
  if (name.length > MAX_HINT_NAME_CHARS) return [];
  const budget = Math.max(2, Math.floor(name.length / 3));
  const lowered = name.toLowerCase();
  // The best `limit` so far, closest first (then by name): a few entries, kept by insertion.
  const best: Array<[string, number]> = [];
  const before = (a: [string, number], b: [string, number]) => a[1] < b[1] || (a[1] === b[1] && a[0] < b[0]);
  let compared = 0;
  for (const candidate of known) {
    if (++compared > MAX_HINT_CANDIDATES) break;
    if (Math.abs(candidate.length - name.length) > budget) continue;
    const distance = editDistance(lowered, candidate.toLowerCase(), budget);
    if (distance > budget) continue;
    const entry: [string, number] = [candidate, distance];
    if (best.length === limit && !before(entry, best[limit - 1] as [string, number])) continue;
    let at = best.length;
    while (at > 0 && before(entry, best[at - 1] as [string, number])) at--;
    best.splice(at, 0, entry);
    if (best.length > limit) best.pop();
  }
  return best.map(([candidate]) => candidate);
}

/**
 * A hint for an unknown `name` among `known` (`thing` names them): the closest names if any are
 * close, else every known name when there are few, else nothing.
 */
export function unknownNameHint(name: string, known: readonly string[], thing: string): string {
  const close = closestNames(name, known);
  if (close.length > 0) return `did you mean ${close.map((c) => `"${c}"`).join(" or ")}?`;
  if (known.length === 0) return `there are no ${thing}`;
  if (known.length <= 20) return `the ${thing} are ${known.map((c) => `"${c}"`).join(", ")}`;
  return "";
}

/** How many more hints one request may get: create one per request and ask it before each hint. */
export class HintBudget {
  private left: number;

  constructor(hints = MAX_HINTED_NAMES) {
    this.left = hints;
  }

  /** Takes one hint from the budget; false once it is spent. */
  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}

/** The one row of memory {@link editDistance} needs, reused: hints are computed one at a time. */
let distanceRow = new Int32Array(MAX_HINT_NAME_CHARS + 2);

/**
 * Levenshtein distance with one row of memory; past `cap` it returns `cap + 1` as soon as every
 * cell of a row exceeds it, since the distance can then only grow.
 */
function editDistance(a: string, b: string, cap: number): number {
  if (distanceRow.length < b.length + 1) distanceRow = new Int32Array(b.length + 1);
  const row = distanceRow;
  for (let j = 0; j <= b.length; j++) row[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const code = a.charCodeAt(i - 1);
    let diagonal = row[0] as number;
    row[0] = i;
    let smallest = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      const substitute = diagonal + (code === b.charCodeAt(j - 1) ? 0 : 1);
      const insert = (row[j - 1] as number) + 1;
      let cell = above + 1;
      if (insert < cell) cell = insert;
      if (substitute < cell) cell = substitute;
      row[j] = cell;
      if (cell < smallest) smallest = cell;
      diagonal = above;
    }
    if (smallest > cap) return cap + 1;
  }
  return row[b.length] as number;
}
