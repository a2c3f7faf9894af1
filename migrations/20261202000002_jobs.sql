-- One job system for everything that must happen once, survive a restart
-- and run on one of several replicas: a job runs at or after `run_at`, is
-- claimed by one worker (a token and a heartbeat; a worker silent for a
-- minute is taken over), is tried again with a growing pause after a
-- failure until `max_attempts`, and is enqueued once per (kind, key), so a
-- double click or two replicas asking make one job. Periodic work keeps one
-- row per kind (key 'periodic') that each period's start makes waiting
-- again, if its last run has ended: once per cluster per period.
create table jobs (
    id bigint generated always as identity primary key,
    kind text not null,
    key text not null,
    -- The dispute the job is about, when it is about one.
    dispute_id bigint constraint jobs_dispute_id_fkey references disputes (id) on delete cascade,
    payload jsonb not null default '{}',
    state text not null default 'waiting'
        constraint jobs_state_known check (state in ('waiting', 'running', 'done', 'failed')),
    run_at timestamptz not null default now(),
    attempts integer not null default 0,
    max_attempts integer not null constraint jobs_max_attempts_positive check (max_attempts > 0),
    -- Every time a worker took it, over its whole life (periodic runs too).
    runs bigint not null default 0,
    last_error text,
    claim bigint,
    heartbeat timestamptz,
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    constraint jobs_key unique (kind, key)
);

create index jobs_due on jobs (run_at, id) where state in ('waiting', 'running');
create index jobs_of_dispute on jobs (dispute_id, id) where dispute_id is not null;
create index jobs_finished on jobs (finished_at) where state in ('done', 'failed');

-- Rebuilds and bulk replays keep their progress and their holder's token;
-- claiming and the heartbeat are the job system's now.
insert into jobs (kind, key, max_attempts)
    select 'rebuild', id::text, 20 from rebuilds where finished_at is null;
insert into jobs (kind, key, max_attempts)
    select 'bulk_replay', id::text, 20 from replay_runs where finished_at is null;
alter table rebuilds drop column heartbeat;
alter table replay_runs drop column heartbeat;
drop index rebuilds_unfinished;
drop index replay_runs_unfinished;

-- The dashboard's figures, computed by one replica for all.
create table dashboard_figures (
    one boolean primary key default true constraint dashboard_figures_one_row check (one),
    figures jsonb not null,
    computed_at timestamptz not null
);

-- Refused requests per sender group and minute, so the allowance holds
-- across replicas (each replica checks its own first, so a flood stops
-- before it reaches the database).
create table sender_allowances (
    sender text not null,
    minute timestamptz not null,
    used integer not null,
    constraint sender_allowances_key primary key (sender, minute)
);

-- Every attempt at a call to a provider (status queries now; responses
-- and evidence next), made by the one executor from inside a job: where it
-- went, how long it took, and what came back or why nothing did.
create table provider_calls (
    id bigint generated always as identity primary key,
    connection_id bigint not null
        constraint provider_calls_connection_id_fkey references connections (id) on delete cascade,
    address text not null,
    attempt integer not null,
    started_at timestamptz not null,
    took_ms integer not null,
    status smallint,
    answer text,
    failure text
);

create index provider_calls_of_connection on provider_calls (connection_id, id desc);
create index provider_calls_by_time on provider_calls (started_at);
