/**
 * Layer 6: processes that live in a container get `k8s:<hostname>` or `docker:<hostname>`; macOS sandboxed
 * apps get `mac:<bundle id>`. The container's files are read through the process's own root
 * (`/proc/<pid>/root` on Linux), so this works both when the meter shares the container and when it runs on
 * the host next to a container with host networking.
 *
 * @module
 */
import { join } from "node:path";
import { toSlug } from "../../core/slug.ts";
import type { FsView, ProcessInfo } from "./types.ts";

/** Layer 6 for process `p`. `userHome` is the user's home folder, where macOS keeps app sandboxes. */
export async function containerLayer(
  p: ProcessInfo,
  fs: FsView,
  userHome?: string,
): Promise<string | undefined> {
  return await linuxContainer(p, fs) ?? await macSandbox(p, fs, userHome);
}

async function linuxContainer(p: ProcessInfo, fs: FsView): Promise<string | undefined> {
  const root = p.root ?? "/";
  const cgroup = await fs.readText(join(root, "proc/1/cgroup")) ?? "";
  // Kubernetes first: a pod's containers also run under docker or containerd.
  const k8s = p.env.KUBERNETES_SERVICE_HOST !== undefined || /kubepods/.test(cgroup) ||
    await fs.exists(join(root, "var/run/secrets/kubernetes.io/serviceaccount"));
  const kind = k8s
    ? "k8s"
    : /docker/.test(cgroup) || await fs.exists(join(root, ".dockerenv"))
    ? "docker"
    : undefined;
  if (!kind) return undefined;
  const hostname = (await fs.readText(join(root, "etc/hostname")))?.trim() || p.env.HOSTNAME;
  return hostname ? toSlug(`${kind}:${hostname}`) : undefined;
}

const SANDBOX_PATH = /\/Library\/Containers\/([^/]+)(\/|$)/;
const APP_EXE = /^(.*\.app)\/Contents\/MacOS\/[^/]+$/;
const BUNDLE_ID = /<key>CFBundleIdentifier<\/key>\s*<string>([^<]+)<\/string>/;

/**
 * A macOS sandboxed app's bundle id: from `APP_SANDBOX_CONTAINER_ID` when the environment is known, from a
 * working directory or executable inside `~/Library/Containers/<id>/`, or from the app bundle's Info.plist
 * when `~/Library/Containers/<id>` exists (only sandboxed apps have one). Binary plists are not read.
 */
async function macSandbox(p: ProcessInfo, fs: FsView, userHome?: string): Promise<string | undefined> {
  const fromEnv = p.env.APP_SANDBOX_CONTAINER_ID;
  const fromPath = SANDBOX_PATH.exec(p.cwd ?? "")?.[1] ?? SANDBOX_PATH.exec(p.exe ?? "")?.[1];
  let id = fromEnv ?? fromPath;
  const app = APP_EXE.exec(p.exe ?? "")?.[1];
  if (!id && app && userHome) {
    const plist = await fs.readText(join(app, "Contents", "Info.plist"));
    const bundle = plist && BUNDLE_ID.exec(plist)?.[1].trim();
    if (bundle && await fs.exists(join(userHome, "Library", "Containers", bundle))) id = bundle;
  }
  return id ? toSlug(`mac:${id}`) : undefined;
}
