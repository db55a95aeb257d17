/**
 * Which `CONNECT`s the daemon should see: the providers' hosts (README.md, "What is metered"), the `[hosts]`
 * the user added, and the host `init`'s self-test connects to. It lives in core so the edge, which must not
 * load daemon code, and the daemon's provider table share one list.
 *
 * @module
 */

/** The providers' API hosts metered out of the box. */
export const PROVIDER_HOSTS: readonly string[] = [
  "api.anthropic.com",
  "api.openai.com",
  "chatgpt.com",
  "generativelanguage.googleapis.com",
  "cloudcode-pa.googleapis.com",
  "api.x.ai",
];

/** The name `init`'s self-test connects to through the edge; the daemon answers it itself. */
export const SELFTEST_HOST = "selftest.halton-meter.invalid";

/** The set of metered host names: the built-in ones, `extra` (config `[hosts]` keys) and the self-test host. */
export function meteredHosts(extra: Iterable<string> = []): ReadonlySet<string> {
  const set = new Set([...PROVIDER_HOSTS, SELFTEST_HOST]);
  for (const h of extra) set.add(h.toLowerCase().replace(/\.$/, ""));
  return set;
}
