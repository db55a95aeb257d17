// One streamed call with an official Node SDK, run by `sdks_test.ts` under Node through `halton-meter run`:
// node sdk_call.mjs <install dir> openai|anthropic|google. Nothing here names the proxy or the CA: the
// variables `run` sets must be enough. Prints the answer's text.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [dir, sdk] = process.argv.slice(2);
const load = async (name) => {
  const mod = await import(pathToFileURL(createRequire(`${dir}/`).resolve(name)).href);
  return mod.default ?? mod;
};

let text = "";
if (sdk === "openai") {
  const { OpenAI } = await load("openai");
  const client = new OpenAI({ apiKey: "sk-test-key", maxRetries: 0 });
  const stream = await client.responses.create({ model: "gpt-5.4", input: "Say hi", stream: true });
  for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
} else if (sdk === "anthropic") {
  const { Anthropic } = await load("@anthropic-ai/sdk");
  const client = new Anthropic({ apiKey: "sk-ant-api03-test-key", maxRetries: 0 });
  const stream = await client.messages.create({
    model: "claude-sonnet-5-5",
    max_tokens: 64,
    messages: [{ role: "user", content: "Say hi" }],
    stream: true,
  });
  for await (const event of stream) {
    if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
  }
} else if (sdk === "google") {
  const { GoogleGenAI } = await load("@google/genai");
  const ai = new GoogleGenAI({ apiKey: "test-key" });
  const stream = await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "Say hi" });
  for await (const chunk of stream) text += chunk.text ?? "";
} else {
  throw new Error(`unknown SDK ${sdk}`);
}
console.log(text);
