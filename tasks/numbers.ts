/** Number formatting shared by the tasks' tables and the report. */
/** "[lo, hi]" with 3 decimals, or null (shown as "-"). */
export function ciText(ci: readonly [number, number] | null | undefined): string | null {
  return ci ? `[${ci[0].toFixed(3)}, ${ci[1].toFixed(3)}]` : null;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
