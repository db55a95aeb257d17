-- Totals that never hide what they could not price, and subscription traffic apart from billed spend: both
-- rollups (daily_usage and hourly_usage) also sum the tokens of calls without a known cost, and the calls and
-- API-equivalent cost of calls billed to a subscription. Backfilled from the calls already stored; the update
-- and delete triggers of both (split by migration 0005 into in place and moving) are recreated to keep the
-- new sums exact when a recost prices a call. A partial index finds the calls without a cost at once, for the
-- daemon's repricing when rates appear.

ALTER TABLE daily_usage ADD COLUMN unknown_cost_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_usage ADD COLUMN subscription_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_usage ADD COLUMN subscription_cost_usd_minor_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hourly_usage ADD COLUMN unknown_cost_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hourly_usage ADD COLUMN subscription_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hourly_usage ADD COLUMN subscription_cost_usd_minor_units INTEGER NOT NULL DEFAULT 0;

-- daily_usage: the backfill, then its triggers recreated with the new sums, and with `billing` among the columns
-- whose change they follow (it moves a call in or out of the subscription sums).
UPDATE daily_usage SET
  unknown_cost_tokens = s.unknown_cost_tokens,
  subscription_requests = s.subscription_requests,
  subscription_cost_usd_minor_units = s.subscription_cost
FROM (
  SELECT substr(requested_at, 1, 10) AS day, project_id, provider, model,
    sum((CASE WHEN requests.cost_usd_minor_units IS NULL
      THEN requests.input_tokens + requests.output_tokens + requests.cache_read_tokens + requests.cache_write_tokens ELSE 0 END)) AS unknown_cost_tokens,
    sum((requests.billing = 'subscription')) AS subscription_requests,
    sum((CASE WHEN requests.billing = 'subscription'
      THEN ifnull(requests.cost_usd_minor_units, 0) ELSE 0 END)) AS subscription_cost
  FROM requests GROUP BY 1, 2, 3, 4
) AS s
WHERE daily_usage.day = s.day AND daily_usage.project_id = s.project_id AND daily_usage.provider = s.provider
  AND daily_usage.model IS s.model;

DROP TRIGGER daily_usage_update_in_place;
DROP TRIGGER daily_usage_update;
DROP TRIGGER daily_usage_delete;

CREATE TRIGGER daily_usage_update_in_place AFTER UPDATE OF requested_at, project_id, provider, model,
  input_tokens, output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status, billing ON requests
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
    error_requests = error_requests - (OLD.status = 'error') + (NEW.status = 'error'),
    unknown_cost_tokens = unknown_cost_tokens - (CASE WHEN OLD.cost_usd_minor_units IS NULL
      THEN OLD.input_tokens + OLD.output_tokens + OLD.cache_read_tokens + OLD.cache_write_tokens ELSE 0 END)
      + (CASE WHEN NEW.cost_usd_minor_units IS NULL
      THEN NEW.input_tokens + NEW.output_tokens + NEW.cache_read_tokens + NEW.cache_write_tokens ELSE 0 END),
    subscription_requests = subscription_requests - (OLD.billing = 'subscription')
      + (NEW.billing = 'subscription'),
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units - (CASE WHEN OLD.billing = 'subscription'
      THEN ifnull(OLD.cost_usd_minor_units, 0) ELSE 0 END)
      + (CASE WHEN NEW.billing = 'subscription'
      THEN ifnull(NEW.cost_usd_minor_units, 0) ELSE 0 END)
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
END;

CREATE TRIGGER daily_usage_update AFTER UPDATE OF requested_at, project_id, provider, model,
  input_tokens, output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status, billing ON requests
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
    error_requests = error_requests - (OLD.status = 'error'),
    unknown_cost_tokens = unknown_cost_tokens - (CASE WHEN OLD.cost_usd_minor_units IS NULL
      THEN OLD.input_tokens + OLD.output_tokens + OLD.cache_read_tokens + OLD.cache_write_tokens ELSE 0 END),
    subscription_requests = subscription_requests - (OLD.billing = 'subscription'),
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units - (CASE WHEN OLD.billing = 'subscription'
      THEN ifnull(OLD.cost_usd_minor_units, 0) ELSE 0 END)
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM daily_usage
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
  INSERT INTO daily_usage (day, project_id, provider, model, requests, input_tokens, output_tokens,
    thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cost_usd_minor_units, unknown_cost_requests, incomplete_requests, error_requests, unknown_cost_tokens,
    subscription_requests, subscription_cost_usd_minor_units)
  VALUES (substr(NEW.requested_at, 1, 10), NEW.project_id, NEW.provider, NEW.model, 1, NEW.input_tokens,
    NEW.output_tokens, NEW.thinking_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
    NEW.cache_write_5m_tokens, NEW.cache_write_1h_tokens, ifnull(NEW.cost_usd_minor_units, 0),
    NEW.cost_usd_minor_units IS NULL, NEW.tokens_complete = 0, NEW.status = 'error',
    (CASE WHEN NEW.cost_usd_minor_units IS NULL
      THEN NEW.input_tokens + NEW.output_tokens + NEW.cache_read_tokens + NEW.cache_write_tokens ELSE 0 END), NEW.billing = 'subscription',
    (CASE WHEN NEW.billing = 'subscription'
      THEN ifnull(NEW.cost_usd_minor_units, 0) ELSE 0 END))
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
    error_requests = error_requests + excluded.error_requests,
    unknown_cost_tokens = unknown_cost_tokens + excluded.unknown_cost_tokens,
    subscription_requests = subscription_requests + excluded.subscription_requests,
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units
      + excluded.subscription_cost_usd_minor_units;
END;

CREATE TRIGGER daily_usage_delete AFTER DELETE ON requests
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
    error_requests = error_requests - (OLD.status = 'error'),
    unknown_cost_tokens = unknown_cost_tokens - (CASE WHEN OLD.cost_usd_minor_units IS NULL
      THEN OLD.input_tokens + OLD.output_tokens + OLD.cache_read_tokens + OLD.cache_write_tokens ELSE 0 END),
    subscription_requests = subscription_requests - (OLD.billing = 'subscription'),
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units - (CASE WHEN OLD.billing = 'subscription'
      THEN ifnull(OLD.cost_usd_minor_units, 0) ELSE 0 END)
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM daily_usage
  WHERE day = substr(OLD.requested_at, 1, 10) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
END;

-- hourly_usage: the backfill, then its triggers recreated with the new sums, and with `billing` among the columns
-- whose change they follow (it moves a call in or out of the subscription sums).
UPDATE hourly_usage SET
  unknown_cost_tokens = s.unknown_cost_tokens,
  subscription_requests = s.subscription_requests,
  subscription_cost_usd_minor_units = s.subscription_cost
FROM (
  SELECT substr(requested_at, 1, 13) AS hour, project_id, provider, model,
    sum((CASE WHEN requests.cost_usd_minor_units IS NULL
      THEN requests.input_tokens + requests.output_tokens + requests.cache_read_tokens + requests.cache_write_tokens ELSE 0 END)) AS unknown_cost_tokens,
    sum((requests.billing = 'subscription')) AS subscription_requests,
    sum((CASE WHEN requests.billing = 'subscription'
      THEN ifnull(requests.cost_usd_minor_units, 0) ELSE 0 END)) AS subscription_cost
  FROM requests GROUP BY 1, 2, 3, 4
) AS s
WHERE hourly_usage.hour = s.hour AND hourly_usage.project_id = s.project_id AND hourly_usage.provider = s.provider
  AND hourly_usage.model IS s.model;

DROP TRIGGER hourly_usage_update_in_place;
DROP TRIGGER hourly_usage_update;
DROP TRIGGER hourly_usage_delete;

CREATE TRIGGER hourly_usage_update_in_place AFTER UPDATE OF requested_at, project_id, provider, model,
  input_tokens, output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status, billing ON requests
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
    error_requests = error_requests - (OLD.status = 'error') + (NEW.status = 'error'),
    unknown_cost_tokens = unknown_cost_tokens - (CASE WHEN OLD.cost_usd_minor_units IS NULL
      THEN OLD.input_tokens + OLD.output_tokens + OLD.cache_read_tokens + OLD.cache_write_tokens ELSE 0 END)
      + (CASE WHEN NEW.cost_usd_minor_units IS NULL
      THEN NEW.input_tokens + NEW.output_tokens + NEW.cache_read_tokens + NEW.cache_write_tokens ELSE 0 END),
    subscription_requests = subscription_requests - (OLD.billing = 'subscription')
      + (NEW.billing = 'subscription'),
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units - (CASE WHEN OLD.billing = 'subscription'
      THEN ifnull(OLD.cost_usd_minor_units, 0) ELSE 0 END)
      + (CASE WHEN NEW.billing = 'subscription'
      THEN ifnull(NEW.cost_usd_minor_units, 0) ELSE 0 END)
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
END;

CREATE TRIGGER hourly_usage_update AFTER UPDATE OF requested_at, project_id, provider, model,
  input_tokens, output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens,
  cache_write_1h_tokens, cost_usd_minor_units, tokens_complete, status, billing ON requests
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
    error_requests = error_requests - (OLD.status = 'error'),
    unknown_cost_tokens = unknown_cost_tokens - (CASE WHEN OLD.cost_usd_minor_units IS NULL
      THEN OLD.input_tokens + OLD.output_tokens + OLD.cache_read_tokens + OLD.cache_write_tokens ELSE 0 END),
    subscription_requests = subscription_requests - (OLD.billing = 'subscription'),
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units - (CASE WHEN OLD.billing = 'subscription'
      THEN ifnull(OLD.cost_usd_minor_units, 0) ELSE 0 END)
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM hourly_usage
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
  INSERT INTO hourly_usage (hour, project_id, provider, model, requests, input_tokens, output_tokens,
    thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cost_usd_minor_units, unknown_cost_requests, incomplete_requests, error_requests, unknown_cost_tokens,
    subscription_requests, subscription_cost_usd_minor_units)
  VALUES (substr(NEW.requested_at, 1, 13), NEW.project_id, NEW.provider, NEW.model, 1, NEW.input_tokens,
    NEW.output_tokens, NEW.thinking_tokens, NEW.cache_read_tokens, NEW.cache_write_tokens,
    NEW.cache_write_5m_tokens, NEW.cache_write_1h_tokens, ifnull(NEW.cost_usd_minor_units, 0),
    NEW.cost_usd_minor_units IS NULL, NEW.tokens_complete = 0, NEW.status = 'error',
    (CASE WHEN NEW.cost_usd_minor_units IS NULL
      THEN NEW.input_tokens + NEW.output_tokens + NEW.cache_read_tokens + NEW.cache_write_tokens ELSE 0 END), NEW.billing = 'subscription',
    (CASE WHEN NEW.billing = 'subscription'
      THEN ifnull(NEW.cost_usd_minor_units, 0) ELSE 0 END))
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
    error_requests = error_requests + excluded.error_requests,
    unknown_cost_tokens = unknown_cost_tokens + excluded.unknown_cost_tokens,
    subscription_requests = subscription_requests + excluded.subscription_requests,
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units
      + excluded.subscription_cost_usd_minor_units;
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
    error_requests = error_requests - (OLD.status = 'error'),
    unknown_cost_tokens = unknown_cost_tokens - (CASE WHEN OLD.cost_usd_minor_units IS NULL
      THEN OLD.input_tokens + OLD.output_tokens + OLD.cache_read_tokens + OLD.cache_write_tokens ELSE 0 END),
    subscription_requests = subscription_requests - (OLD.billing = 'subscription'),
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units - (CASE WHEN OLD.billing = 'subscription'
      THEN ifnull(OLD.cost_usd_minor_units, 0) ELSE 0 END)
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model;
  DELETE FROM hourly_usage
  WHERE hour = substr(OLD.requested_at, 1, 13) AND project_id = OLD.project_id AND provider = OLD.provider
    AND model IS OLD.model AND requests = 0;
END;

CREATE INDEX requests_unpriced ON requests (id) WHERE cost_usd_minor_units IS NULL;
