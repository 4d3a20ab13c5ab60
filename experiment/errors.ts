/**
 * Bad input (config, data, templates, CLI arguments, workflow input). Never retried: the message names the
 * field, what is wrong and how to fix it, and the activity layer marks it non-retryable.
 */
export class InputError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}${field}: ${problem}. Fix: ${fix}.`);
    this.name = 'InputError';
  }
}
