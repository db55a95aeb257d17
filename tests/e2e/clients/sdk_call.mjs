// One streamed call with an official Node SDK, run by `sdks_test.ts` under Node through `halton-meter run`:
// node sdk_call.mjs <install dir> openai|anthropic|google; or a download that tells usage billed apart:
// anthropic-batch (a Message Batch's results), openai-batch (a Batch API output file), openai-background (a
// response run in the background, polled until it ended). Nothing here names the proxy or the CA: the
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
} else if (sdk === "anthropic-batch") {
  // The SDK reads the batch for its results_url, then streams the results as JSON Lines.
  const { Anthropic } = await load("@anthropic-ai/sdk");
  const client = new Anthropic({ apiKey: "sk-ant-api03-test-key", maxRetries: 0 });
  const ids = [];
  for await (const line of await client.messages.batches.results("msgbatch_01X")) ids.push(line.custom_id);
  text = ids.join(" ");
} else if (sdk === "openai-batch") {
  const { OpenAI } = await load("openai");
  const client = new OpenAI({ apiKey: "sk-test-key", maxRetries: 0 });
  const content = await (await client.files.content("file-out")).text();
  text = content.split("\n").filter(Boolean).map((l) => JSON.parse(l).custom_id).join(" ");
} else if (sdk === "openai-background") {
  // Started in the background, then polled until it has ended, as the SDK's docs show.
  const { OpenAI } = await load("openai");
  const client = new OpenAI({ apiKey: "sk-test-key", maxRetries: 0 });
  let response = await client.responses.create({ model: "gpt-5", input: "Survey", background: true });
  while (response.status === "queued" || response.status === "in_progress") {
    response = await client.responses.retrieve(response.id);
  }
  text = `${response.status} ${response.output_text}`;
} else {
  throw new Error(`unknown SDK ${sdk}`);
}
console.log(text);
