/**
 * `init --non-interactive` on a fixture machine, the set-up most command tests start from.
 *
 * @module
 */
import { parseInvocation } from "../../cli/command.ts";
import { command as initCommand, execute as init } from "../../cli/init.ts";
import { captureIo } from "../helpers/io.ts";
import type { Fixture } from "../setup/_fixture.ts";

/** Runs `init --non-interactive` on `f`'s machine, its output discarded. */
export async function initMachine(f: Fixture): Promise<void> {
  await init(
    captureIo(f.paths).io,
    parseInvocation("init", initCommand, ["--non-interactive"]),
    f.machine().m,
  );
}
