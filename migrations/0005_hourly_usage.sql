-- An hourly rollup beside the daily one, so that reports over any time zone's days are exact and still
-- cheap: a local day is whole UTC days (daily_usage) plus whole UTC hours (this table) plus, in zones whose
-- offset is not a whole number of hours (+05:30, +05:45), the few minutes left at each end, read call by
-- call. Same columns and NULL-model rule as daily_usage; backfilled from the stored calls; the writer adds
-- each flush (store/rollup.ts) and triggers follow updates and deletes, as for daily_usage, whose update
-- trigger is split here like the new one.

CREATE TABLE hourly_usage (
  -- The UTC hour, 'YYYY-MM-DDTHH': substr(requested_at, 1, 13).
  hour                   TEXT NOT NULL,
  project_id             TEXT NOT NULL,
  provider               TEXT NOT NULL,
  model                  TEXT,
  requests               INTEGER NOT NULL DEFAULT 0,
  input_tokens           INTEGER NOT NULL DEFAULT 0,
  output_tokens          INTEGER NOT NULL DEFAULT 0,
  thinking_tokens        INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens      INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens     INTEGER NOT NULL DEFAULT 0,
  cache_write_5m_tokens  INTEGER NOT NULL DEFAULT 0,
  cache_write_1h_tokens  INTEGER NOT NULL DEFAULT 0,
  -- Sum of the known costs in millicents; calls with a NULL cost add nothing here and count below.
  cost_usd_minor_units   INTEGER NOT NULL DEFAULT 0,
  unknown_cost_requests  INTEGER NOT NULL DEFAULT 0,
  incomplete_requests    INTEGER NOT NULL DEFAULT 0,
  error_requests         INTEGER NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX hourly_usage_key ON hourly_usage (hour, project_id, provider, model IS NULL, ifnull(model, ''));
-- A project's figures (the read API per project, `report --project`) without scanning other projects' days.
CREATE INDEX hourly_usage_by_project ON hourly_usage (project_id, hour);

INSERT INTO hourly_usage (hour, project_id, provider, model, requests, input_tokens, output_tokens,
  thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
  cost_usd_minor_units, unknown_cost_requests, incomplete_requests, error_requests)
SELECT substr(requested_at, 1, 13), project_id, provider, model, count(*), sum(input_tokens),
  sum(output_tokens), sum(thinking_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
  sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), coalesce(sum(cost_usd_minor_units), 0),
  count(*) - count(cost_usd_minor_units), sum(tokens_complete = 0), sum(status = 'error')
FROM requests
GROUP BY 1, 2, 3, 4;

-- A change that leaves the call in its group (a recost rewrites only the cost): one update by the
-- difference, a third of the statements of the general case below, which a recost of every call would feel.
CREATE TRIGGER hourly_usage_update_in_place AFTER UPDATE OF requested_at, project_id, provider, model,
  input_tokens, output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status ON requests
  WHEN substr(OLD.requested_at, 1, 13) = substr(NEW.requested_at, 1, 13) AND OLD.project_id = NEW.project_id
  AND OLD.provider = NEW.provider AND OLD.model IS NEW.model
BEGIN
  UPDATE hourly_usage SET
    input_tokens = input_tokens - OLD.input_tokens + NEW.input_tokens,
    output_tokens = output_tokens - OLD.output_tokens + NEW.output_tokens,
    thinking_tokens = thinking_tokens - OLD.thinking_tokens + NEW.thinking_tokens,
    cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens + NEW.cache_read_tokens,
    cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens + NEW.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens + NEW.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens + NEW.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units - ifnull(OLD.cost_usd_minor_units, 0)
      + ifnull(NEW.cost_usd_minor_units, 0),
    unknown_cost_requests = unknown_cost_requests - (OLD.cost_usd_minor_units IS NULL)
      + (NEW.cost_usd_minor_units IS NULL),
    incomplete_requests = incomplete_requests - (OLD.tokens_complete = 0) + (NEW.tokens_complete = 0),
    error_requests = error_requests - (OLD.status = 'error') + (NEW.status = 'error')
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
END;

-- A change that moves the call to another group: take the old values out of their group, drop the group if
-- that emptied it, and add the new values to theirs.
CREATE TRIGGER hourly_usage_update AFTER UPDATE OF requested_at, project_id, provider, model, input_tokens,
  output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status ON requests
  WHEN NOT (substr(OLD.requested_at, 1, 13) = substr(NEW.requested_at, 1, 13) AND OLD.project_id = NEW.project_id
  AND OLD.provider = NEW.provider AND OLD.model IS NEW.model)
BEGIN
  UPDATE hourly_usage SET
    requests = requests - 1,
    input_tokens = input_tokens - OLD.input_tokens,
    output_tokens = output_tokens - OLD.output_tokens,
    thinking_tokens = thinking_tokens - OLD.thinking_tokens,
    cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
    cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units - ifnull(OLD.cost_usd_minor_units, 0),
    unknown_cost_requests = unknown_cost_requests - (OLD.cost_usd_minor_units IS NULL),
    incomplete_requests = incomplete_requests - (OLD.tokens_complete = 0),
    error_requests = error_requests - (OLD.status = 'error')
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM hourly_usage
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
  INSERT INTO hourly_usage (hour, project_id, provider, model, requests, input_tokens, output_tokens,
    thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cost_usd_minor_units, unknown_cost_requests, incomplete_requests, error_requests)
  VALUES (substr(NEW.requested_at, 1, 13), NEW.project_id, NEW.provider, NEW.model, 1, NEW.input_tokens,
    NEW.output_tokens, NEW.thinking_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
    NEW.cache_write_5m_tokens, NEW.cache_write_1h_tokens, ifnull(NEW.cost_usd_minor_units, 0),
    NEW.cost_usd_minor_units IS NULL, NEW.tokens_complete = 0, NEW.status = 'error')
  ON CONFLICT (hour, project_id, provider, model IS NULL, ifnull(model, '')) DO UPDATE SET
    requests = requests + 1,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    thinking_tokens = thinking_tokens + excluded.thinking_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units + excluded.cost_usd_minor_units,
    unknown_cost_requests = unknown_cost_requests + excluded.unknown_cost_requests,
    incomplete_requests = incomplete_requests + excluded.incomplete_requests,
    error_requests = error_requests + excluded.error_requests;
END;

CREATE TRIGGER hourly_usage_delete AFTER DELETE ON requests
BEGIN
  UPDATE hourly_usage SET
    requests = requests - 1,
    input_tokens = input_tokens - OLD.input_tokens,
    output_tokens = output_tokens - OLD.output_tokens,
    thinking_tokens = thinking_tokens - OLD.thinking_tokens,
    cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
    cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units - ifnull(OLD.cost_usd_minor_units, 0),
    unknown_cost_requests = unknown_cost_requests - (OLD.cost_usd_minor_units IS NULL),
    incomplete_requests = incomplete_requests - (OLD.tokens_complete = 0),
    error_requests = error_requests - (OLD.status = 'error')
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM hourly_usage
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
END;

-- daily_usage's update trigger (migration 0003) split the same way, so that a recost pays one statement per
-- call and rollup, not three.
DROP TRIGGER daily_usage_update;

CREATE TRIGGER daily_usage_update_in_place AFTER UPDATE OF requested_at, project_id, provider, model,
  input_tokens, output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status ON requests
  WHEN substr(OLD.requested_at, 1, 10) = substr(NEW.requested_at, 1, 10) AND OLD.project_id = NEW.project_id
  AND OLD.provider = NEW.provider AND OLD.model IS NEW.model
BEGIN
  UPDATE daily_usage SET
    input_tokens = input_tokens - OLD.input_tokens + NEW.input_tokens,
    output_tokens = output_tokens - OLD.output_tokens + NEW.output_tokens,
    thinking_tokens = thinking_tokens - OLD.thinking_tokens + NEW.thinking_tokens,
    cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens + NEW.cache_read_tokens,
    cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens + NEW.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens + NEW.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens + NEW.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units - ifnull(OLD.cost_usd_minor_units, 0)
      + ifnull(NEW.cost_usd_minor_units, 0),
    unknown_cost_requests = unknown_cost_requests - (OLD.cost_usd_minor_units IS NULL)
      + (NEW.cost_usd_minor_units IS NULL),
    incomplete_requests = incomplete_requests - (OLD.tokens_complete = 0) + (NEW.tokens_complete = 0),
    error_requests = error_requests - (OLD.status = 'error') + (NEW.status = 'error')
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
END;

CREATE TRIGGER daily_usage_update AFTER UPDATE OF requested_at, project_id, provider, model, input_tokens,
  output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status ON requests
  WHEN NOT (substr(OLD.requested_at, 1, 10) = substr(NEW.requested_at, 1, 10) AND OLD.project_id = NEW.project_id
  AND OLD.provider = NEW.provider AND OLD.model IS NEW.model)
BEGIN
  UPDATE daily_usage SET
    requests = requests - 1,
    input_tokens = input_tokens - OLD.input_tokens,
    output_tokens = output_tokens - OLD.output_tokens,
    thinking_tokens = thinking_tokens - OLD.thinking_tokens,
    cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
    cache_write_tokens = cache_write_tokens - OLD.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens - OLD.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens - OLD.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units - ifnull(OLD.cost_usd_minor_units, 0),
    unknown_cost_requests = unknown_cost_requests - (OLD.cost_usd_minor_units IS NULL),
    incomplete_requests = incomplete_requests - (OLD.tokens_complete = 0),
    error_requests = error_requests - (OLD.status = 'error')
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM daily_usage
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
  INSERT INTO daily_usage (day, project_id, provider, model, requests, input_tokens, output_tokens,
    thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cost_usd_minor_units, unknown_cost_requests, incomplete_requests, error_requests)
  VALUES (substr(NEW.requested_at, 1, 10), NEW.project_id, NEW.provider, NEW.model, 1, NEW.input_tokens,
    NEW.output_tokens, NEW.thinking_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
    NEW.cache_write_5m_tokens, NEW.cache_write_1h_tokens, ifnull(NEW.cost_usd_minor_units, 0),
    NEW.cost_usd_minor_units IS NULL, NEW.tokens_complete = 0, NEW.status = 'error')
  ON CONFLICT (day, project_id, provider, model IS NULL, ifnull(model, '')) DO UPDATE SET
    requests = requests + 1,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    thinking_tokens = thinking_tokens + excluded.thinking_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units + excluded.cost_usd_minor_units,
    unknown_cost_requests = unknown_cost_requests + excluded.unknown_cost_requests,
    incomplete_requests = incomplete_requests + excluded.incomplete_requests,
    error_requests = error_requests + excluded.error_requests;
END;

