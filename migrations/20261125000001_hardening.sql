-- Hardening: failed sign-ins counted per (account, address) outside the
-- audit log, session epochs that end old sessions, and the audit log paged
-- by keyset.

-- One row per account and address with failures; a successful sign-in or an
-- admin's unlock removes it. Attempts refused while throttled are not
-- counted, so nobody can keep an account closed by trying again.
create table sign_in_failures (
    email text not null,
    address text not null,
    failures integer not null,
    first_failure_at timestamptz not null default now(),
    last_failure_at timestamptz not null default now(),
    constraint sign_in_failures_key primary key (email, address)
);

create index sign_in_failures_by_address on sign_in_failures (address, last_failure_at);
create index sign_in_failures_by_time on sign_in_failures (last_failure_at);

drop table login_attempts;

-- A session remembers the epoch it was opened in; changing a password, a
-- role, or disabling the account moves the epoch on and ends the others.
alter table users add column session_epoch bigint not null default 0;

-- A notification whose event the database refused for a reason other than
-- an outage (it is kept, answered 500 once, and waits for ops).
alter table notifications drop constraint notifications_verdict_known;
alter table notifications add constraint notifications_verdict_known check (verdict in (
    'received', 'valid', 'duplicate', 'bad_signature', 'missing_signature', 'malformed',
    'unknown_connection', 'forbidden_source', 'too_large', 'disabled', 'failed'));

-- Requests for unknown connections or with oversized bodies past a sender's
-- allowance are answered 429 and not stored; they are counted here, per
-- sender and minute, for the delivery history.
create table throttled_requests (
    sender text not null,
    minute timestamptz not null,
    requests bigint not null,
    last_slug text not null,
    constraint throttled_requests_key primary key (sender, minute)
);

create index throttled_requests_by_time on throttled_requests (minute desc);
