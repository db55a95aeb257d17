-- Initial schema. Money is integer millicents (1 USD = 100,000); NULL cost means the model had no rate.
-- Timestamps are ISO-8601 UTC with milliseconds ('2026-11-25T10:00:00.000Z'), so text order is time order.

CREATE TABLE projects (
  id          TEXT PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  archived_at TEXT
);

CREATE TABLE requests (
  id                     TEXT PRIMARY KEY,
  project_id             TEXT NOT NULL REFERENCES projects(id),
  requested_at           TEXT NOT NULL,
  provider               TEXT NOT NULL,
  model                  TEXT,
  -- 'thinking' when the response carried reasoning tokens, else 'standard' (the dashboard's badge).
  mode                   TEXT NOT NULL DEFAULT 'standard',
  -- Token columns share one meaning for every provider: cost = sum of column x its rate.
  input_tokens           INTEGER NOT NULL DEFAULT 0,
  output_tokens          INTEGER NOT NULL DEFAULT 0,
  thinking_tokens        INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens      INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens     INTEGER NOT NULL DEFAULT 0,
  cache_write_5m_tokens  INTEGER NOT NULL DEFAULT 0,
  cache_write_1h_tokens  INTEGER NOT NULL DEFAULT 0,
  cost_usd_minor_units   INTEGER,
  rates_source           TEXT,
  latency_ms             INTEGER,
  ttft_ms                INTEGER,
  tokens_complete        INTEGER NOT NULL DEFAULT 1,
  status                 TEXT NOT NULL DEFAULT 'success',
  billing                TEXT NOT NULL DEFAULT 'api',
  attribution_layer      TEXT,
  client_process         TEXT,
  host                   TEXT,
  path                   TEXT,
  http_status            INTEGER,
  error_class            TEXT,
  provider_error_code    TEXT,
  request_bytes          INTEGER,
  response_bytes         INTEGER,
  streamed               INTEGER NOT NULL DEFAULT 0
);

-- The report and the read API filter by time, then group by project, model, provider or day.
CREATE INDEX requests_by_time ON requests (requested_at);
CREATE INDEX requests_by_project_time ON requests (project_id, requested_at);
CREATE INDEX requests_unknown_model ON requests (model) WHERE cost_usd_minor_units IS NULL;

-- Price overrides and imported rates (USD per million tokens), consulted before the bundled card.
CREATE TABLE pricing_rates (
  id                 INTEGER PRIMARY KEY,
  provider           TEXT NOT NULL,
  model              TEXT NOT NULL,
  -- 'standard', 'batch' or 'priority'.
  tier               TEXT NOT NULL DEFAULT 'standard',
  -- The rate applies when the prompt has at least this many tokens (long-context tiers).
  min_prompt_tokens  INTEGER NOT NULL DEFAULT 0,
  input              REAL,
  output             REAL,
  cache_read         REAL,
  cache_write_5m     REAL,
  cache_write_1h     REAL,
  source             TEXT NOT NULL,
  created_at         TEXT NOT NULL,
  UNIQUE (provider, model, tier, min_prompt_tokens)
);
