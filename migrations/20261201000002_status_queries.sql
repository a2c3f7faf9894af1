-- The status-query fallback: every query asked of a provider (by a person or
-- by reconciliation) is kept with its outcome and what it changed; a dispute
-- remembers when it was last asked (one query per minute, and claims for
-- reconciliation) and, while the provider's latest answer disagrees with
-- what was known before it, both sides.

alter table disputes
    add column last_queried_at timestamptz,
    add column query_conflict jsonb;

create index disputes_in_conflict on disputes (id) where query_conflict is not null;

create table status_queries (
    id bigint generated always as identity primary key,
    dispute_id bigint not null constraint status_queries_dispute_fkey references disputes (id),
    connection_id bigint not null
        constraint status_queries_connection_fkey references connections (id),
    -- null: asked by reconciliation
    asked_by bigint constraint status_queries_asked_by_fkey references users (id),
    asked_at timestamptz not null default now(),
    why text not null,
    outcome text not null
        constraint status_queries_outcome_known check (outcome in (
            'found', 'not_found', 'failed', 'refused', 'unreachable', 'not_configured')),
    detail text not null,
    answer text,
    event_id bigint constraint status_queries_event_fkey references dispute_events (id),
    stage_before text,
    status_before text,
    stage_after text,
    status_after text,
    took_ms integer not null
);

create index status_queries_by_time on status_queries (asked_at desc, id desc);
create index status_queries_of_dispute on status_queries (dispute_id, asked_at desc, id desc);

create trigger status_queries_append_only before update or delete on status_queries
    for each row execute function desk_history_is_append_only();

-- How long a connection may go without a notification before it counts as
-- silent (null: the installation's default).
alter table connections add column silence_after_minutes integer
    constraint connections_silence_positive check (silence_after_minutes > 0);
