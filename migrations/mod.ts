/**
 * Every migration this build ships, reached through the module graph so that a compiled or bundled binary
 * carries them without reading any folder at run time. Adding one is one line: the file's name as the export
 * name, its text as the value. The runner orders them by the number the name starts with.
 *
 * @module
 */
export { default as "0001_initial.sql" } from "./0001_initial.sql" with { type: "text" };
export { default as "0002_project_model_index.sql" } from "./0002_project_model_index.sql" with { type: "text" };
export { default as "0003_daily_usage.sql" } from "./0003_daily_usage.sql" with { type: "text" };
export { default as "0004_rollup_in_writer.sql" } from "./0004_rollup_in_writer.sql" with { type: "text" };
export { default as "0005_hourly_usage.sql" } from "./0005_hourly_usage.sql" with { type: "text" };
export { default as "0007_unpriced_and_subscription_sums.sql" } from "./0007_unpriced_and_subscription_sums.sql" with { type: "text" };
export { default as "0008_searches_and_modalities.sql" } from "./0008_searches_and_modalities.sql" with { type: "text" };
