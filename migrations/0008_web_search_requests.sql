-- Web searches a provider ran for a call and bills per search, apart from tokens (Anthropic's web_search server
-- tool, OpenAI's web_search tool): cost = sum of token column x its rate + searches x the provider's fee.
-- Additive with a default, so a binary from before it still writes its calls (with no searches counted).
ALTER TABLE requests ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
