-- Sending responses. A submission is the merchant's decision for a
-- dispute's stage (defend or accept), sent through the provider's API by a
-- job or recorded as made outside the desk; at most one per stage is
-- sending or sent, so two tabs, a double click or two replicas make one.
-- Each step is recorded as it completes (with the request as sent, files'
-- contents left out, and the answer), so a resumed job skips what is done.
-- A confirmation page hands out a one-time token; only its hash is kept.

alter table disputes drop constraint disputes_status_known,
    add constraint disputes_status_known check (status in (
        'needs_response', 'under_review', 'responded', 'won', 'lost', 'accepted', 'expired',
        'cancelled'));
alter table dispute_events drop constraint dispute_events_status_known,
    add constraint dispute_events_status_known check (status in (
        'needs_response', 'under_review', 'responded', 'won', 'lost', 'accepted', 'expired',
        'cancelled'));
alter table dispute_events drop constraint dispute_events_source_known,
    add constraint dispute_events_source_known
        check (source in ('notification', 'replay', 'status_query', 'response'));

create table submissions (
    id bigint generated always as identity primary key,
    dispute_id bigint not null constraint submissions_dispute_fkey references disputes (id),
    stage text not null
        constraint submissions_stage_known check (stage in (
            'fraud_alert', 'inquiry', 'chargeback', 'pre_arbitration', 'arbitration')),
    decision text not null constraint submissions_decision_known check (decision in ('defend', 'accept')),
    channel text not null constraint submissions_channel_known check (channel in ('provider', 'outside')),
    state text not null
        constraint submissions_state_known check (state in ('sending', 'done', 'refused', 'gave_up')),
    -- The response sent (a defence's); an acceptance needs none.
    response_id bigint constraint submissions_response_fkey references responses (id),
    -- The steps, in order (`supply:invoice`, `check`, `defend`, …).
    plan text[] not null,
    -- Why it was refused or given up, in an analyst's words.
    words text,
    -- A response sent outside the desk: when, how, what, and a note.
    outside_at timestamptz,
    outside_method text
        constraint submissions_outside_method_known
            check (outside_method in ('email', 'portal', 'phone', 'other')),
    outside_sent text constraint submissions_outside_sent_size check (length(outside_sent) <= 500),
    outside_note text constraint submissions_outside_note_size check (length(outside_note) <= 2000),
    requested_by bigint not null constraint submissions_requested_by_fkey references users (id),
    requested_at timestamptz not null default now(),
    finished_at timestamptz,
    -- The event its decision folded in as, once done.
    event_id bigint constraint submissions_event_fkey references dispute_events (id),
    constraint submissions_outside_told
        check ((channel = 'outside' and decision = 'defend') = (outside_at is not null))
);

create unique index submissions_one_per_stage on submissions (dispute_id, stage)
    where state in ('sending', 'done');
create index submissions_of_dispute on submissions (dispute_id, id);

create table submission_steps (
    id bigint generated always as identity primary key,
    submission_id bigint not null
        constraint submission_steps_submission_fkey references submissions (id),
    step text not null,
    outcome text not null
        constraint submission_steps_outcome_known check (outcome in ('done', 'refused', 'failed')),
    words text not null,
    -- The address, the request as sent (files' contents left out), the
    -- answer's status and body; none when it was never sent.
    address text,
    request text,
    status smallint,
    answer text,
    at timestamptz not null default now()
);

create unique index submission_steps_done_once on submission_steps (submission_id, step)
    where outcome = 'done';
create index submission_steps_of_submission on submission_steps (submission_id, id);

create table confirm_tokens (
    token_sha256 bytea primary key constraint confirm_tokens_hash_size check (length(token_sha256) = 32),
    dispute_id bigint not null constraint confirm_tokens_dispute_fkey references disputes (id),
    stage text not null,
    decision text not null constraint confirm_tokens_decision_known check (decision in ('defend', 'accept')),
    user_id bigint not null constraint confirm_tokens_user_fkey references users (id),
    created_at timestamptz not null default now(),
    used_at timestamptz
);

create index confirm_tokens_of_user on confirm_tokens (user_id, created_at);
