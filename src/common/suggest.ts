/**
 * "Did you mean" hints for names that do not exist: the known names closest to what was asked
 * for, by edit distance, so a typo in a view, feature or key is answered with the right spelling.
 */

/** Known names at most a third of the name's length (and at least 2) edits away, closest first, at most `limit`. */
export function closestNames(name: string, known: Iterable<string>, limit = 3): string[] {
  const budget = Math.max(2, Math.floor(name.length / 3));
  const scored: Array<[string, number]> = [];
  for (const candidate of known) {
    if (Math.abs(candidate.length - name.length) > budget) continue;
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= budget) scored.push([candidate, distance]);
  }
  return scored
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([candidate]) => candidate);
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

/** Levenshtein distance with one row of memory. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}
