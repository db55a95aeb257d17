-- The read API's per-project figures (most-used and costliest model) group by project, provider and model.
CREATE INDEX requests_by_project_model ON requests (project_id, provider, model, requested_at, cost_usd_minor_units);
