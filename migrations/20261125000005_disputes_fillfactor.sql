-- Recording an event locks its dispute with a no-op update, then writes the
-- refolded projection. Room left on each page lets the no-op stay a heap-only
-- update (no new index entries, less for autovacuum to clean).
alter table disputes set (fillfactor = 70);
