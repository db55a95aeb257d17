import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeUtf16le, writeRendered } from "../../platform/files.ts";
import type { RenderedFile } from "../../platform/types.ts";

Deno.test("writeRendered() creates the file and its folders, then writes nothing while the content is the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file: RenderedFile = {
      path: join(dir, "a b", "unit.service"),
      content: "x\n",
      encoding: "utf-8",
      mode: 0o640,
      purpose: "test",
    };
    assert.equal(writeRendered(file), "created");
    const mtime = (await Deno.stat(file.path)).mtime;
    assert.equal(writeRendered(file), "unchanged");
    assert.deepEqual((await Deno.stat(file.path)).mtime, mtime);
    assert.equal((await Deno.stat(file.path)).mode! & 0o777, 0o640);
    assert.equal(writeRendered({ ...file, content: "y\n" }), "changed");
    assert.equal(await Deno.readTextFile(file.path), "y\n");
    assert.deepEqual([...Deno.readDirSync(join(dir, "a b"))].map((e) => e.name), ["unit.service"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeRendered() writes a UTF-16 file with its byte-order mark and reads it back as unchanged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file: RenderedFile = {
      path: join(dir, "t.xml"),
      content: "<é/>",
      encoding: "utf-16le",
      purpose: "test",
    };
    assert.equal(writeRendered(file), "created");
    const bytes = await Deno.readFile(file.path);
    assert.equal(new TextDecoder("utf-16le", { ignoreBOM: true }).decode(bytes), "\ufeff<é/>");
    assert.equal(writeRendered(file), "unchanged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encodeUtf16le() encodes characters outside the BMP as surrogate pairs", () => {
  assert.deepEqual([...encodeUtf16le("a😀")], [0xff, 0xfe, 0x61, 0, 0x3d, 0xd8, 0x00, 0xde]);
});
