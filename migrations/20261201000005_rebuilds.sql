-- Rebuilds: every dispute folded afresh from its events as the provider
-- modules read them today. A check finds what would change and keeps it;
-- applying a check writes what it found, each dispute recomputed under its
-- lock. Runners claim unfinished work through the heartbeat, so one that
-- stops is taken over where it left off.
create table rebuilds (
    id bigint generated always as identity primary key,
    kind text not null
        constraint rebuilds_kind_known check (kind in ('check', 'apply')),
    check_id bigint constraint rebuilds_check_fkey references rebuilds (id),
    requested_by bigint constraint rebuilds_requested_by_fkey references users (id),
    requested_at timestamptz not null default now(),
    -- The last dispute done: work resumes after it.
    done_through bigint not null default 0,
    total bigint not null,
    checked bigint not null default 0,
    changed bigint not null default 0,
    -- The runner holding it: only its writes count.
    claim bigint,
    heartbeat timestamptz,
    finished_at timestamptz,
    failure text,
    constraint rebuilds_apply_names_its_check check ((kind = 'apply') = (check_id is not null))
);

create unique index rebuilds_one_apply_per_check on rebuilds (check_id);
create index rebuilds_unfinished on rebuilds (id) where finished_at is null;

-- One dispute a rebuild found changed (a check) or changed (an apply):
-- its state before and after, and its events as they read before and after.
create table rebuild_changes (
    rebuild_id bigint not null constraint rebuild_changes_rebuild_fkey references rebuilds (id),
    dispute_id bigint not null constraint rebuild_changes_dispute_fkey references disputes (id),
    before jsonb not null,
    after jsonb not null,
    events jsonb not null,
    kept jsonb not null,
    -- An apply's: whether what it wrote differs from what the check found
    -- (events arrived in between).
    unlike_check boolean,
    constraint rebuild_changes_pkey primary key (rebuild_id, dispute_id)
);

create trigger rebuild_changes_append_only before update or delete on rebuild_changes
    for each row execute function desk_history_is_append_only();

-- Moved on each time a rebuild rewrites a dispute's events, and stamped on
-- the events it rewrote: a writer that read the events before its lock
-- (intake, a replay, a status query) sees that it read them too early.
alter table disputes add column revision integer not null default 0;
alter table dispute_events add column revision integer not null default 0;
