/**
 * A headless Chromium for page tests, driven over the Chrome DevTools Protocol with Deno's own WebSocket (no
 * npm driver to pin): Debian's `chromium`, a fresh profile in a temp folder, no network beyond what the page
 * asks of loopback. It records every console error, uncaught exception and browser log error (a blocked
 * resource, a failed request), so a test can assert there were none.
 *
 * @module
 */
/** Where Debian installs Chromium; `.ci/run` installs it. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why page tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  try {
    Deno.statSync(CHROMIUM);
    return undefined;
  } catch {
    return `${CHROMIUM} is not installed (Debian package chromium; .ci/run installs it)`;
  }
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** One page in a headless browser. */
export interface Page extends AsyncDisposable {
  /** Console errors, exceptions and browser log errors seen so far. */
  readonly errors: string[];
  /** Sets the viewport (CSS pixels); `mobile` for a phone's touch and meta-viewport behaviour. */
  viewport(width: number, height: number, mobile?: boolean): Promise<void>;
  goto(url: string): Promise<void>;
  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  eval<T>(expression: string): Promise<T>;
  /** Polls `expression` until it is truthy. */
  waitFor(what: string, expression: string, limitMs?: number): Promise<void>;
  /** A PNG of the whole page. */
  screenshot(): Promise<Uint8Array>;
}

/** Starts Chromium and opens one blank page. Dispose of it (`await using`) to close both. */
export async function openPage(): Promise<Page> {
  const profile = await Deno.makeTempDir({ prefix: "halton-meter-chromium-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let wsUrl: string | undefined;
  let seen = "";
  while (!wsUrl) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    wsUrl = /DevTools listening on (ws:\/\/\S+)\n/.exec(seen)?.[1];
  }
  // The rest of stderr is Chromium's own chatter: drained so it never blocks, never read.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  if (!wsUrl) {
    child.kill();
    await child.status;
    await drained;
    throw new Error("chromium did not print its DevTools address");
  }

  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot connect to ${wsUrl}`));
  });
  let next = 0;
  const pending = new Map<number, Pending>();
  const errors: string[] = [];
  let session = "";
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data as string);
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.message} (${JSON.stringify(msg.error.data ?? "")})`));
      else p?.resolve(msg.result);
      return;
    }
    if (msg.method === "Runtime.exceptionThrown") {
      const d = msg.params.exceptionDetails;
      errors.push(`exception: ${d.exception?.description ?? d.text}`);
    } else if (msg.method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(msg.params.type)) {
      errors.push(
        `console.${msg.params.type}: ${msg.params.args.map((a: { value?: unknown }) => a.value).join(" ")}`,
      );
    } else if (msg.method === "Log.entryAdded" && msg.params.entry.level === "error") {
      errors.push(`log: ${msg.params.entry.text} ${msg.params.entry.url ?? ""}`);
    }
  };
  const send = (method: string, params: Record<string, unknown> = {}, sessionId = session) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) }));
    });

  const { targetInfos } = await send("Target.getTargets", {}, "") as {
    targetInfos: { targetId: string; type: string }[];
  };
  const target = targetInfos.find((t) => t.type === "page")!;
  session = (await send("Target.attachToTarget", { targetId: target.targetId, flatten: true }, ""))
    .sessionId as string;
  await send("Runtime.enable");
  await send("Log.enable");
  await send("Page.enable");

  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }) as {
      result: { value: T };
      exceptionDetails?: { exception?: { description?: string }; text: string };
    };
    if (r.exceptionDetails) {
      throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  };

  return {
    errors,
    async viewport(width, height, mobile = false) {
      await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile });
    },
    async goto(url) {
      await send("Page.navigate", { url });
    },
    eval: evaluate,
    async waitFor(what, expression, limitMs = 20_000) {
      const end = Date.now() + limitMs;
      while (Date.now() < end) {
        if (await evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `${what}: not true after ${limitMs} ms (${expression}); page errors: ${errors.join("; ")}`,
      );
    },
    async screenshot() {
      const { data } = await send("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
      }) as {
        data: string;
      };
      return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    },
    async [Symbol.asyncDispose]() {
      await send("Browser.close", {}, "").catch(() => {});
      if (ws.readyState !== WebSocket.CLOSED) {
        const closed = new Promise((resolve) => ws.onclose = resolve);
        ws.close();
        await closed;
      }
      for (const p of pending.values()) p.reject(new Error("browser closed"));
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
      await drained;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
