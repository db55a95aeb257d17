/**
 * The local CA and the per-host leaf certificates the daemon presents: `loadOrCreateCa` once at start, then
 * a {@linkcode LeafMinter} answering each TLS handshake's server name.
 *
 * @module
 */
export { type CaMaterial, loadOrCreateCa } from "./ca.ts";
export { type Leaf, LeafMinter } from "./leaf.ts";
