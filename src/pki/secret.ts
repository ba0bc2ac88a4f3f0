import { inspect } from 'node:util';

/**
 * Private key material. Printing, logging or JSON-encoding it gives `[redacted]`; only
 * `reveal()` gives the PEM, and only code that writes secrets/ files or values may call it.
 */
export class SecretPem {
  readonly #pem: string;
  constructor(pem: string) {
    this.#pem = pem;
  }
  reveal(): string {
    return this.#pem;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'SecretPem [redacted]';
  }
}
