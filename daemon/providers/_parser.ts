/**
 * The part every shape's response parser shares: reading the body, the usage record being filled in, errors
 * reported by the body, and the end of the exchange (the request's model as a fallback, HTTP error status,
 * whether the row is complete). A shape supplies only what it picks from each parsed value and what makes its
 * usage whole.
 *
 * @module
 */
import type { ExchangeInfo, ProviderShape, ResponseParser } from "./types.ts";
import type { Usage } from "../../core/usage.ts";
import type { Pick } from "./json_pick.ts";
import {
  applyHttpError,
  blankUsage,
  type BodyFormat,
  BodyReader,
  classifyError,
  type Json,
  type PathMatch,
  pathOnly,
  requestJson,
  str,
} from "./_shared.ts";

/** A shape metering POSTs to the paths `matchPath` accepts, with a fresh parser from `create` per exchange. */
export function postShape(
  provider: string,
  matchPath: PathMatch,
  create: (info: ExchangeInfo) => ResponseParser,
): ProviderShape {
  return { provider, matches: (method, path) => method === "POST" && matchPath(path), createParser: create };
}

/**
 * A shape metering GETs of paths (query string ignored) that `pattern` matches: downloads that tell usage
 * billed apart from them (a batch's results, a response run in the background).
 */
export function getShape(
  provider: string,
  pattern: RegExp,
  create: (info: ExchangeInfo) => ResponseParser,
): ProviderShape {
  return {
    provider,
    matches: (method, path) => method === "GET" && pattern.test(pathOnly(path)),
    createParser: create,
  };
}

/** A response parser that owns the body reader and the common end of an exchange; see the module notes. */
export abstract class UsageParser implements ResponseParser {
  /** The exchange being parsed. */
  protected readonly info: ExchangeInfo;
  /** The usage being filled in; returned by {@linkcode UsageParser.finish}. */
  protected readonly usage: Usage = blankUsage(null);
  /** Reads the body and hands each parsed value to {@linkcode UsageParser.value}. */
  protected readonly reader: BodyReader;
  #errorCode: string | null = null;
  #streamFailed = false;
  #ended = false;

  /** Reads the body of `info` as `format`, keeping the members `pick` names of a plain JSON body. */
  constructor(info: ExchangeInfo, format: BodyFormat, pick: Pick) {
    this.info = info;
    // `[DONE]` ends an OpenAI-style stream whatever the shape.
    this.reader = new BodyReader(format, pick, (v) => this.value(v), () => this.streamEnded());
  }

  /** Feeds decoded response bytes. */
  push(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  /**
   * Ends the body and returns the usage; an HTTP error status makes the row complete when the body was. A
   * body cut short after its stream's terminal event counts as whole: the bytes still pending then (a partial
   * keep-alive line, the closing `]` of a JSON array) are left unread, since they cannot change the usage.
   */
  finish(complete: boolean): Usage {
    const cutAfterEnd = !complete && this.#ended;
    if (!cutAfterEnd) this.reader.end();
    const u = this.usage;
    if (cutAfterEnd) {
      complete = true;
      u.ended = true;
    }
    u.model ??= str(requestJson(this.info)?.model) ?? null;
    if (this.info.status >= 400) {
      applyHttpError(u, this.info.status, this.#errorCode);
      u.tokens_complete = complete;
    } else {
      u.tokens_complete = complete && this.usageComplete();
    }
    return u;
  }

  /** Takes what the shape needs from one parsed value of the body. */
  protected abstract value(v: Json): void;

  /** For a successful status: whether the body gave everything a complete row needs. */
  protected abstract usageComplete(): boolean;

  /**
   * Records an error the body reported. Under an HTTP error status its code only names that error; under a
   * successful one the stream itself failed, and the row becomes an error row.
   */
  protected failed(code: string | null): void {
    this.#errorCode = code;
    if (this.info.status < 400) {
      this.#streamFailed = true;
      this.usage.error = { error_class: classifyError(this.info.status, code), provider_error_code: code };
    }
  }

  /** The shape saw its stream's terminal event: see {@linkcode UsageParser.finish}. */
  protected streamEnded(): void {
    this.#ended = true;
  }

  /** Neither an error inside a successful stream nor an unreadable body. */
  protected get intact(): boolean {
    return !this.#streamFailed && !this.reader.malformed;
  }
}
