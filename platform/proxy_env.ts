/**
 * The environment variables that send a program's traffic through the edge and make it trust our CA: one pure
 * function shared by `run`, `env` and `init`, so they never disagree.
 *
 * @module
 */
import { PROJECT_PROXY_PASSWORD } from "../core/project_tag.ts";

/** Inputs of {@linkcode proxyEnv}. */
export interface ProxyEnvOptions {
  edgePort: number;
  /** Explicit project slug: carried as the proxy user name and as `HALTON_PROJECT`. */
  project?: string;
  /** Our CA certificate alone (PEM); its variables are left out when undefined. */
  caCert?: string;
  /** System roots plus our CA (PEM); its variables are left out when undefined. */
  caBundle?: string;
}

/** Hosts that must never go through the proxy. */
export const NO_PROXY = "localhost,127.0.0.1,::1";

/** Variables read as a whole CA bundle (they replace the system roots, hence system roots + our CA). */
export const BUNDLE_VARS = [
  "SSL_CERT_FILE",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
  "GIT_SSL_CAINFO",
  "AWS_CA_BUNDLE",
] as const;

/** Variables read as extra CAs on top of the built-in roots. */
export const EXTRA_CA_VARS = ["NODE_EXTRA_CA_CERTS", "DENO_CERT"] as const;

/**
 * Node's `fetch` (undici) ignores `HTTPS_PROXY` unless this is set (Node 22.21+ and 24+), so SDKs built on it
 * (`@google/genai`, `openai` v5+) would reach the provider directly, unmetered and unnoticed.
 */
export const NODE_PROXY_VARS = { NODE_USE_ENV_PROXY: "1" } as const;

/**
 * The variables for one mode. Both cases of the proxy variables are set because tools disagree on which they
 * read (curl reads only lower-case `http_proxy`). The project is percent-encoded in the URL, since slugs may
 * hold `:` and `/`, and followed by {@linkcode PROJECT_PROXY_PASSWORD} (`acme:x@`).
 */
export function proxyEnv(options: ProxyEnvOptions): Record<string, string> {
  const user = options.project ? `${encodeURIComponent(options.project)}:${PROJECT_PROXY_PASSWORD}@` : "";
  const proxy = `http://${user}127.0.0.1:${options.edgePort}`;
  const env: Record<string, string> = {
    HTTPS_PROXY: proxy,
    https_proxy: proxy,
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    NO_PROXY,
    no_proxy: NO_PROXY,
    ...NODE_PROXY_VARS,
  };
  if (options.caBundle) { for (const v of BUNDLE_VARS) env[v] = options.caBundle; }
  if (options.caCert) { for (const v of EXTRA_CA_VARS) env[v] = options.caCert; }
  if (options.project) env.HALTON_PROJECT = options.project;
  return env;
}
