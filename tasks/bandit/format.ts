/**
 * Number printing of the seed's history lists (SPEC §3 "History lists"): `numpy.round(x, 1)` then Python
 * `str(list)`. Both differ from anything built into JS, and a single differing digit changes the prompt.
 */

/** C `rint` under the default rounding mode: nearest integer, ties to even, sign kept (rint(-0.4) = -0). */
export function rint(y: number): number {
  if (!Number.isFinite(y) || Math.abs(y) >= 2 ** 52) return y; // already integral (or nan/inf)
  const f = Math.floor(y);
  const d = y - f; // exact for |y| < 2^52
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return r === 0 && (y < 0 || Object.is(y, -0)) ? -0 : r;
}

/** `numpy.round(x, 1)` for a float64: numpy computes `rint(x * 10) / 10` in float64 (not decimal rounding). */
export function npRound1(x: number): number {
  return rint(x * 10) / 10;
}

/**
 * Python `repr(float)`: the shortest string that round-trips (the same digits as JS `String(x)`, which ES also
 * defines as shortest and closest), laid out by Python's 'r' rules: scientific when the decimal exponent is
 * < -4 or >= 16 (`1e+16`, `1e-05`, at least two exponent digits), otherwise positional with `.0` kept on
 * integral values. numpy 1.x `float64.__repr__` follows the same rules.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // Decompose JS's shortest representation ("123.45", "1.5e-7", "1e+21", "0.000123") into digits and exponent.
  const [mant = '', e = '0'] = String(Math.abs(x)).split('e');
  const [ip = '', fp = ''] = mant.split('.');
  const all = ip + fp;
  const lead = all.length - all.replace(/^0+/, '').length;
  const digits = all.slice(lead).replace(/0+$/, '');
  const exp = ip.length + Number(e) - lead - 1; // x = d.ddd × 10^exp
  if (exp < -4 || exp >= 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** Python `str(list_of_floats)`: `[a, b]`, elements in repr form, `[]` when empty. */
export function pyFloatListRepr(xs: readonly number[]): string {
  return `[${xs.map(pyFloatRepr).join(', ')}]`;
}
