/**
 * A temp HOME for end-to-end runs of the CLI under the built-in supervisor: a meter home whose config sends
 * one provider host to a local fake on free ports, an empty `bin` as the whole PATH (no systemctl: the
 * supervisor runs the services, and no real service is touched), and a `close()` that undoes it all.
 *
 * @module
 */
import { join } from "node:path";
import { runCli } from "./cli.ts";
import { type FakeProvider, startFakeProvider } from "../../testkit/fake_provider.ts";
import { freePorts, killRecorded } from "../../testkit/processes.ts";

/** What {@linkcode supervisedHome} made. */
export interface SupervisedHome {
  /** The temp HOME, removed by `close()`. */
  dir: string;
  /** The meter home inside it, and its `run` folder. */
  home: string;
  run: string;
  fake: FakeProvider;
  /** The edge's port, from the config. */
  edgePort: number;
  /** The environment every CLI run of the test gets. */
  env: Record<string, string>;
  /** Uninstalls, kills what `run` still names, stops the fake and removes the folder. */
  close(): Promise<void>;
}

/** Makes a {@linkcode SupervisedHome} under a temp folder named with `prefix`, `host` resolved to the fake. */
export async function supervisedHome(prefix: string, host: string): Promise<SupervisedHome> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix }));
  const home = join(dir, ".halton-meter");
  const bin = join(dir, "bin");
  await Deno.mkdir(bin);
  await Deno.mkdir(home);
  const fake = await startFakeProvider(dir);
  const [edge, intercept, api] = freePorts(3);
  await Deno.writeTextFile(
    join(home, "config.toml"),
    `[edge]\nport = ${edge}\n\n[daemon]\nintercept_port = ${intercept}\napi_port = ${api}\n\n` +
      `[upstream]\nca_file = ${
        JSON.stringify(fake.caFile)
      }\nresolve = { "${host}" = "127.0.0.1:${fake.port}" }\n`,
  );
  const env = { HOME: dir, HALTON_METER_HOME: home, PATH: bin };
  const run = join(home, "run");
  return {
    dir,
    home,
    run,
    fake,
    edgePort: edge,
    env,
    async close() {
      await runCli(["uninstall", "--yes"], env).catch(() => undefined);
      killRecorded(run);
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
