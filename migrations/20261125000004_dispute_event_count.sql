-- How many events a dispute's projection was last folded from. Recording
-- reads a dispute's events in the statement that locks it, from a snapshot
-- that may predate the lock; when the count says that snapshot is short,
-- the events are read again.
alter table disputes add column event_count integer not null default 0;

update disputes d
set event_count = (select count(*) from dispute_events e where e.dispute_id = d.id);
