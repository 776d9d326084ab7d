/**
 * "Did you mean …?" for configuration mistakes: the candidate closest to a
 * misspelt word, if it is close enough to be a plausible typo.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const normalize = (s: string) => s.toLowerCase().replace(/[_\s]/g, '-').replace(/[,;:]+$/, '');
  const target = normalize(word);
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(target, normalize(candidate));
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (!best) return undefined;
  const tolerance = Math.max(1, Math.floor(Math.max(target.length, best.candidate.length) / 3));
  return best.distance <= tolerance ? best.candidate : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** `"x" (did you mean "y"?)` or just `"x"`. */
export function quotedWithHint(word: string, candidates: readonly string[]): string {
  const match = closestMatch(word, candidates);
  return match && match !== word ? `"${word}" (did you mean "${match}"?)` : `"${word}"`;
}
