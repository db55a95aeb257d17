/**
 * Shared by the TLS tests: temp CA folders, external tools run with a clean environment (no proxy variables,
 * `HOME` in the temp folder), and an `openssl`-made CA in the original's file layout.
 *
 * @module
 */
import { join } from "node:path";
import "reflect-metadata";
import { X509Certificate } from "@peculiar/x509";
import type { Paths } from "../../core/paths.ts";

/** The CA paths of a `~/.mitmproxy` inside `root`. */
export function caPaths(root: string): Pick<Paths, "caDir" | "caKeyAndCert" | "caCert"> {
  const caDir = join(root, ".mitmproxy");
  return {
    caDir,
    caKeyAndCert: join(caDir, "mitmproxy-ca.pem"),
    caCert: join(caDir, "mitmproxy-ca-cert.pem"),
  };
}

/** What a finished tool run said. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool with only `PATH` and `HOME` (= `home`) set; undefined when the tool is not installed. */
export async function runTool(
  cmd: string,
  args: string[],
  home: string,
  stdin?: string,
): Promise<ToolResult | undefined> {
  try {
    const child = new Deno.Command(cmd, {
      args,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: home },
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** True when `cmd args` runs and exits 0 here. */
export async function haveTool(cmd: string, args: string[]): Promise<boolean> {
  const home = await Deno.makeTempDir();
  try {
    return (await runTool(cmd, args, home))?.code === 0;
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/**
 * Writes a CA the way the original's mitmproxy did: an RSA key and a self-signed CA certificate in one PEM,
 * made by `openssl`. `keyForm` picks the key block (`pkcs8`: BEGIN PRIVATE KEY, `pkcs1`: BEGIN RSA PRIVATE KEY,
 * `sec1`: an EC key as BEGIN EC PRIVATE KEY); `certFirst` puts the certificate before the key.
 */
export async function writeOpensslCa(
  file: string,
  options: { keyForm: "pkcs8" | "pkcs1" | "sec1"; certFirst?: boolean },
): Promise<void> {
  const work = await Deno.makeTempDir();
  try {
    const key = join(work, "key.pem");
    const cert = join(work, "cert.pem");
    const run = async (args: string[]) => {
      const r = await runTool("openssl", args, work);
      if (r?.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r?.stderr}`);
    };
    if (options.keyForm === "sec1") {
      await run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    } else {
      await run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]);
      if (options.keyForm === "pkcs1") await run(["rsa", "-in", key, "-traditional", "-out", key]);
    }
    await run([
      "req",
      "-x509",
      "-new",
      "-key",
      key,
      "-out",
      cert,
      "-days",
      "3650",
      "-subj",
      "/CN=mitmproxy/O=mitmproxy",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]); // deno-fmt-ignore
    const keyText = await Deno.readTextFile(key);
    const certText = await Deno.readTextFile(cert);
    await Deno.mkdir(join(file, ".."), { recursive: true });
    await Deno.writeTextFile(file, options.certFirst ? certText + keyText : keyText + certText, {
      mode: 0o600,
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Parses the first certificate of a PEM text. */
export function parseCert(pem: string): X509Certificate {
  return new X509Certificate(pem);
}
