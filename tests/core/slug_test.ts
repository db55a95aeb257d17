import assert from "node:assert/strict";
import { isSlug, MAX_SLUG_LENGTH, toSlug } from "../../core/slug.ts";

Deno.test("toSlug() keeps a valid slug as it is", () => {
  assert.equal(toSlug("acme-web_2:team/a"), "acme-web_2:team/a");
});

Deno.test("toSlug() lowercases and turns spaces and dots into dashes", () => {
  assert.equal(toSlug("My App"), "my-app");
  assert.equal(toSlug("  Acme   Web \t"), "acme-web");
  assert.equal(toSlug("next.js"), "next-js");
  assert.equal(toSlug("mac:com.Example.Notes"), "mac:com-example-notes");
});

Deno.test("toSlug() rejects what it cannot read as a slug", () => {
  for (const bad of ["", "   ", "café", "a+b", "-lead", "/root", "x".repeat(MAX_SLUG_LENGTH + 1)]) {
    assert.equal(toSlug(bad), undefined, bad);
  }
  assert.equal(toSlug(undefined), undefined);
  assert.equal(toSlug(null), undefined);
});

Deno.test("isSlug() takes a tag as it stands: no case folding, and no more than MAX_SLUG_LENGTH", () => {
  assert.equal(isSlug("acme-web_2:team/a"), true);
  assert.equal(isSlug("x".repeat(MAX_SLUG_LENGTH)), true);
  for (const bad of ["My App", "Acme", "next.js", "", "x".repeat(MAX_SLUG_LENGTH + 1)]) {
    assert.equal(isSlug(bad), false, bad);
  }
});
