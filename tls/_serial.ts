/**
 * Certificate serial numbers.
 *
 * @module
 */

/**
 * 16 random bytes for a positive serial: the high bit is cleared so DER keeps it positive without a padding
 * byte, and the first byte is never zero so the encoding stays minimal (strict verifiers reject both faults).
 */
export function randomSerialBytes(): Uint8Array<ArrayBuffer> {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) || 0x01;
  return bytes;
}

/** {@linkcode randomSerialBytes} as hex, the form `@peculiar/x509` takes. */
export function randomSerial(): string {
  return Array.from(randomSerialBytes(), (b) => b.toString(16).padStart(2, "0")).join("");
}
