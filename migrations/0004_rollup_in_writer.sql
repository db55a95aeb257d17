-- The daily rollup is now added to by the writer, once per group and flush (store/rollup.ts), not by
-- a trigger once per inserted call. Whatever inserts into requests adds its calls to daily_usage itself: the
-- daemon's writer and the seed script do. Updates and deletes still go through their triggers.
DROP TRIGGER daily_usage_insert;
