/**
 * What the bench reads about the processes it measures, from Linux's `/proc` (undefined elsewhere).
 *
 * @module
 */

/** CPU time (user + system, ms) a process has used so far. */
export function cpuMs(pid: number): number | undefined {
  try {
    const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    // utime and stime are in clock ticks, 100 per second on every Linux Deno runs on.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process (MB): total, anonymous, and file-backed (the mapped executable). */
export interface Rss {
  total: number;
  anon: number;
  file: number;
}

/** The resident memory of a process now. */
export function rss(pid: number): Rss | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { total: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
  } catch {
    return undefined;
  }
}

/** Samples the RSS of `pids` every `everyMs` until `stop()`, which returns each one's peak. */
export function rssPeaks(pids: readonly number[], everyMs = 100): { stop(): (Rss | undefined)[] } {
  const peaks: (Rss | undefined)[] = pids.map(() => undefined);
  const sample = () =>
    pids.forEach((pid, i) => {
      const now = rss(pid);
      if (now && (!peaks[i] || now.total > peaks[i]!.total)) peaks[i] = now;
    });
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

/** The summed CPU time (ms) `pids` spend while `work` runs; undefined when any cannot be read. */
export async function cpuDuring<T>(pids: readonly number[], work: () => Promise<T>): Promise<[T, number?]> {
  const before = pids.map(cpuMs);
  const out = await work();
  const after = pids.map(cpuMs);
  let sum = 0;
  for (let i = 0; i < pids.length; i++) {
    const [b, a] = [before[i], after[i]];
    if (a === undefined || b === undefined) return [out, undefined];
    sum += a - b;
  }
  return [out, sum];
}
