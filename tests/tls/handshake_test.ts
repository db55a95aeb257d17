/**
 * Real clients against a `node:tls` server on 127.0.0.1 that picks its leaf by SNI, as the daemon does: curl,
 * Python's `ssl` in X.509 strict mode, `openssl verify -x509_strict`, and Deno's own fetch. Each runs for a
 * new P-256 CA and, where openssl can make one, for an original-style RSA CA.
 */
import assert from "node:assert/strict";
import { createSecureContext, createServer, type Server } from "node:tls";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type CaMaterial, loadOrCreateCa } from "../../tls/ca.ts";
import { LeafMinter } from "../../tls/leaf.ts";
import { caPaths, haveTool, runTool, writeOpensslCa } from "./_helpers.ts";

const PY_CLIENT = `
import socket, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET / HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n".encode())
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
print("Python", sys.version.split()[0], ssl.OPENSSL_VERSION, file=sys.stderr)
print(data.decode().split("\\r\\n\\r\\n", 1)[1])
`;

/** Python to test with: `HALTON_TEST_PYTHON`, else the first of python3.13, python3 that runs. */
async function findPython(): Promise<string | undefined> {
  const wanted = Deno.env.get("HALTON_TEST_PYTHON");
  for (const cmd of wanted ? [wanted] : ["python3.13", "python3"]) {
    if (await haveTool(cmd, ["-c", "import ssl; ssl.VERIFY_X509_STRICT"])) return cmd;
  }
  return undefined;
}

const tools = {
  curl: await haveTool("curl", ["--version"]),
  openssl: await haveTool("openssl", ["version"]),
  python: await findPython(),
};
for (const [tool, present] of Object.entries(tools)) {
  if (!present) console.warn(`handshake_test: ${tool} is not installed; its checks are skipped`);
}

/** A TLS server answering every request with `hello <servername>`, its leaf chosen by SNI. */
async function startServer(minter: LeafMinter): Promise<{ server: Server; port: number }> {
  const fallback = await minter.leafFor("127.0.0.1");
  const fallbackContext = createSecureContext({ key: fallback.keyPem, cert: fallback.certPem });
  const server = createServer({
    key: fallback.keyPem,
    cert: fallback.certPem,
    SNICallback: (name, cb) => {
      // Deno calls this with "" when the client sent no SNI (connecting to an IP); Node would not call it.
      if (!name) return cb(null, fallbackContext);
      minter.leafFor(name).then(
        (leaf) => cb(null, createSecureContext({ key: leaf.keyPem, cert: leaf.certPem })),
        (e) => cb(e as Error),
      );
    },
  }, (socket) => {
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString();
      if (!head.includes("\r\n\r\n")) return;
      const body = `hello ${(socket as unknown as { servername?: string }).servername || "no-sni"}`;
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function withServer(
  kind: "p256" | "rsa",
  fn: (
    ctx: { port: number; caFile: string; ca: CaMaterial; root: string; minter: LeafMinter },
  ) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "halton-hs-" });
  try {
    const paths = caPaths(root);
    if (kind === "rsa") await writeOpensslCa(paths.caKeyAndCert, { keyForm: "pkcs1" });
    const { ca } = await loadOrCreateCa(paths);
    const minter = new LeafMinter(ca);
    const { server, port } = await startServer(minter);
    try {
      await fn({ port, caFile: paths.caCert, ca, root, minter });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

for (const kind of ["p256", "rsa"] as const) {
  const caLabel = kind === "p256" ? "a new P-256 CA" : "an original-style RSA CA";
  const needsOpenssl = kind === "rsa" && !tools.openssl;

  Deno.test({
    name: `curl accepts leaves of ${caLabel} for host names and IPs (--cacert, --resolve)`,
    ignore: !tools.curl || needsOpenssl,
  }, async () => {
    await withServer(kind, async ({ port, caFile, root }) => {
      for (const host of ["api.openai.com", "generativelanguage.googleapis.com"]) {
        const r = await runTool("curl", [
          "-sS",
          "--fail",
          "--noproxy",
          "*",
          "--cacert",
          caFile,
          "--resolve",
          `${host}:${port}:127.0.0.1`,
          `https://${host}:${port}/`,
        ], root); // deno-fmt-ignore
        assert.equal(r?.code, 0, r?.stderr);
        assert.equal(r?.stdout, `hello ${host}`);
      }
      const ip = await runTool("curl", [
        "-sS",
        "--fail",
        "--noproxy",
        "*",
        "--cacert",
        caFile,
        `https://127.0.0.1:${port}/`,
      ], root);
      assert.equal(ip?.code, 0, ip?.stderr);
      assert.equal(ip?.stdout, "hello no-sni");
    });
  });

  Deno.test({
    name: `curl refuses the leaves of ${caLabel} when it trusts another CA`,
    ignore: !tools.curl || needsOpenssl,
  }, async () => {
    await withServer(kind, async ({ port, root }) => {
      const other = caPaths(join(root, "other"));
      await loadOrCreateCa(other);
      const r = await runTool("curl", [
        "-sS",
        "--noproxy",
        "*",
        "--cacert",
        other.caCert,
        "--resolve",
        `api.openai.com:${port}:127.0.0.1`,
        `https://api.openai.com:${port}/`,
      ], root); // deno-fmt-ignore
      assert.equal(r?.code, 60, `curl's "peer certificate cannot be authenticated": ${r?.stderr}`);
    });
  });

  Deno.test({
    name: `Python ssl with VERIFY_X509_STRICT accepts leaves of ${caLabel}`,
    ignore: !tools.python || needsOpenssl,
  }, async () => {
    await withServer(kind, async ({ port, caFile, root }) => {
      for (const host of ["api.anthropic.com", "127.0.0.1"]) {
        const r = await runTool(tools.python!, ["-c", PY_CLIENT, host, String(port), caFile], root);
        assert.equal(r?.code, 0, r?.stderr);
        assert.equal(r?.stdout.trim(), `hello ${host === "127.0.0.1" ? "no-sni" : host}`);
        if (host === "127.0.0.1") console.log(`tested with ${r?.stderr.trim()}`);
      }
    });
  });

  Deno.test({
    name: `openssl verify -x509_strict accepts leaves of ${caLabel} for their name and purpose`,
    ignore: !tools.openssl,
  }, async () => {
    await withServer(kind, async ({ caFile, root, minter }) => {
      for (const [name, check] of [["api.x.ai", "-verify_hostname"], ["::1", "-verify_ip"]]) {
        const leafFile = join(root, "leaf.pem");
        await Deno.writeTextFile(leafFile, (await minter.leafFor(name)).certPem);
        const args = [
          "verify",
          "-x509_strict",
          "-purpose",
          "sslserver",
          check,
          name,
          "-CAfile",
          caFile,
          leafFile,
        ];
        const ok = await runTool("openssl", args, root);
        assert.equal(ok?.code, 0, `${ok?.stdout}${ok?.stderr}`);
        const wrongName = args.map((a) => a === name ? (name === "::1" ? "::2" : "api.openai.com") : a);
        assert.notEqual((await runTool("openssl", wrongName, root))?.code, 0);
      }
    });
  });

  Deno.test({
    name: `Deno fetch with createHttpClient({ caCerts }) accepts leaves of ${caLabel}`,
    ignore: needsOpenssl,
  }, async () => {
    await withServer(kind, async ({ port, ca }) => {
      const client = Deno.createHttpClient({ caCerts: [ca.certPem] });
      try {
        for (const host of ["127.0.0.1", "localhost"]) {
          const res = await fetch(`https://${host}:${port}/`, { client });
          assert.equal(await res.text(), `hello ${host === "localhost" ? "localhost" : "no-sni"}`);
        }
      } finally {
        client.close();
      }
      const untrusting = Deno.createHttpClient({});
      try {
        await assert.rejects(fetch(`https://127.0.0.1:${port}/`, { client: untrusting }));
      } finally {
        untrusting.close();
      }
    });
  });
}
