/**
 * Message bodies between the client's connection and the provider's, without Node streams. A body is a
 * {@linkcode BodySource} that pushes chunks to one {@linkcode BodyReceiver} and can be paused, and a
 * {@linkcode BodySink} that takes chunks and says when it is full. On a small call the stream machinery (four
 * streams per exchange, each with its state, events and deferred callbacks) cost more CPU than parsing,
 * forwarding and metering together; these do only what the exchange uses.
 *
 * @module
 */
import type { Buffer } from "node:buffer";

/** Told a body's bytes, then exactly one of `end` or `abort`. */
export interface BodyReceiver {
  data(chunk: Buffer): void;
  /** The body ended as its framing said. */
  end(): void;
  /** The body was cut short: connection reset, malformed framing, the peer gone. */
  abort(reason: Error): void;
}

/** A body being received. Chunks that come before a receiver is attached are held for it. */
export interface BodySource {
  /** Attaches the one receiver and delivers what was held. */
  receive(receiver: BodyReceiver): void;
  /** Asks the producer to stop reading; chunks already read may still arrive. */
  pause(): void;
  resume(): void;
}

/** A body being sent. */
export interface BodySink {
  /** Sends `chunk`; false when the sender should pause its source until the sink drains. */
  write(chunk: Buffer): boolean;
  /** Sends `last` if given and ends the body; `delivered` is told once everything was handed on, or not. */
  end(last?: Buffer, delivered?: (ok: boolean) => void): void;
  /** `cb` runs each time the sink can take more after `write` returned false. */
  onDrain(cb: () => void): void;
}

/** What a {@linkcode BodyChannel} asks of the connection it reads from. */
export interface ReadControl {
  pause(): void;
  resume(): void;
}

/** A body receiver that drops everything: for requests answered without reading their body. */
export const DISCARD: BodyReceiver = { data() {}, end() {}, abort() {} };

/**
 * The producer's side of a {@linkcode BodySource}: the connection reading a message pushes into it, the
 * exchange receives from it. Until a receiver is attached, chunks are held and the connection is paused.
 */
export class BodyChannel implements BodySource {
  readonly #control: ReadControl;
  #receiver?: BodyReceiver;
  #held?: Buffer[];
  #outcome?: { error?: Error };
  #paused = false;
  #told = false;

  constructor(control: ReadControl) {
    this.#control = control;
  }

  /** True once the body ended or was cut short (whether or not a receiver was told yet). */
  get done(): boolean {
    return this.#outcome !== undefined;
  }

  /** Delivers `chunk`, or holds it while no receiver is attached. */
  push(chunk: Buffer): void {
    if (this.#outcome || !chunk.length) return;
    if (this.#receiver) return this.#receiver.data(chunk);
    (this.#held ??= []).push(chunk);
    this.#control.pause();
  }

  /** The body ended cleanly. */
  end(): void {
    if (this.#outcome) return;
    this.#outcome = {};
    this.#tell();
  }

  /** The body was cut short. */
  abort(reason: Error): void {
    if (this.#outcome) return;
    this.#outcome = { error: reason };
    this.#tell();
  }

  receive(receiver: BodyReceiver): void {
    if (this.#receiver) throw new Error("a body has one receiver");
    this.#receiver = receiver;
    const held = this.#held;
    this.#held = undefined;
    if (held) { for (const chunk of held) receiver.data(chunk); }
    this.#tell();
    if (!this.#paused && !this.#outcome) this.#control.resume();
  }

  pause(): void {
    this.#paused = true;
    this.#control.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#control.resume();
  }

  #tell(): void {
    const receiver = this.#receiver;
    const outcome = this.#outcome;
    if (!receiver || !outcome || this.#told) return;
    this.#told = true;
    if (outcome.error) receiver.abort(outcome.error);
    else receiver.end();
  }
}
