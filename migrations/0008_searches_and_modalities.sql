-- What a provider bills apart from plain text tokens. Web searches (Anthropic's web_search server tool, OpenAI's
-- web_search tool) are billed per search: cost adds searches x the provider's fee. The audio and image parts of
-- input and output (pictures sent, images generated) are counted inside input_tokens and output_tokens, as
-- thinking_tokens is inside output, and billed at their own rates where a model has them: cost = (input - its
-- audio and images) x input + audio x input_audio + images x input_image, and alike for output. pricing_rates
-- gains those rates.
-- Additive with defaults, so a binary from before it still writes its calls (with nothing counted apart).
ALTER TABLE requests ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN input_audio_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN input_image_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN output_audio_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN output_image_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pricing_rates ADD COLUMN input_audio REAL;
ALTER TABLE pricing_rates ADD COLUMN input_image REAL;
ALTER TABLE pricing_rates ADD COLUMN output_audio REAL;
ALTER TABLE pricing_rates ADD COLUMN output_image REAL;
