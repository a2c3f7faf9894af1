-- A bulk replay as a job: the refused deliveries a filter matched when it
-- was asked for, replayed oldest first a batch at a time by whichever
-- runner claims it (through the heartbeat), with progress and a tally of
-- outcomes. Each replay it makes names it.
create table replay_runs (
    id bigint generated always as identity primary key,
    filter text not null,
    requested_by bigint constraint replay_runs_requested_by_fkey references users (id),
    requested_at timestamptz not null default now(),
    total integer not null,
    done integer not null default 0,
    tally jsonb not null default '{}',
    -- The runner holding it: only its writes count.
    claim bigint,
    heartbeat timestamptz,
    finished_at timestamptz,
    failure text
);

create index replay_runs_unfinished on replay_runs (id) where finished_at is null;

create table replay_run_items (
    run_id bigint not null constraint replay_run_items_run_fkey references replay_runs (id),
    position integer not null,
    notification_id bigint not null
        constraint replay_run_items_notification_fkey references notifications (id),
    constraint replay_run_items_pkey primary key (run_id, position)
);

-- Retention asks whether a delivery is in a run before removing it.
create index replay_run_items_of_notification on replay_run_items (notification_id);

alter table delivery_replays
    add column run_id bigint constraint delivery_replays_run_fkey references replay_runs (id);

-- Refused deliveries per connection in the order they arrived: what the
-- health page counts as waiting for a replay.
create index notifications_refused on notifications (connection_id, received_at, id)
    where verdict not in ('valid', 'duplicate');
