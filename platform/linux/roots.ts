/**
 * Where Linux distributions keep their system root certificates as one PEM file (Debian/Ubuntu, Fedora/RHEL,
 * openSUSE, Alpine and others), first match wins. A module of its own so the daemon can read it without
 * loading the platform renderers.
 *
 * @module
 */

/** The candidate files, most common first. */
export const LINUX_ROOT_FILES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
  "/etc/ssl/cert.pem",
];
