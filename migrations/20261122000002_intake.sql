-- Intake: what a connection needs to verify and query, every inbound
-- request as received, and the disputes, events and payments they carry.

alter table connections
    -- PingPong accId, Botim Money partner id, PayerMax merchantNo.
    add column account_id text,
    -- PayerMax appId.
    add column app_id text,
    add column query_base_url text,
    -- Addresses and CIDR ranges allowed to deliver; empty allows any.
    add column source_allowlist text[] not null default '{}';

-- Verification keys (a PingPong salt, a provider's RSA public key) and the
-- merchant's signing key for status queries; up to a current and a next one
-- each, so keys rotate without downtime. Secrets are sealed with
-- AES-256-GCM under the master key; public keys are stored as SPKI DER.
create table connection_keys (
    id bigint generated always as identity primary key,
    connection_id bigint not null references connections (id) on delete cascade,
    purpose text not null
        constraint connection_keys_purpose_known check (purpose in ('verify', 'sign')),
    slot text not null
        constraint connection_keys_slot_known check (slot in ('current', 'next')),
    public_der bytea,
    sealed_secret bytea,
    fingerprint text not null,
    created_at timestamptz not null default now(),
    constraint connection_keys_one_material check ((public_der is null) <> (sealed_secret is null)),
    constraint connection_keys_slot_key unique (connection_id, purpose, slot)
);

-- Every request to /webhooks/{slug}, stored before it is judged, whatever
-- its fate. The body is kept byte for byte (its first 64 KiB when too large).
create table notifications (
    id bigint generated always as identity primary key,
    received_at timestamptz not null default now(),
    connection_id bigint references connections (id),
    slug text not null,
    remote_addr text not null,
    headers jsonb not null,
    body bytea not null,
    body_length bigint not null,
    body_sha256 bytea not null,
    verdict text not null default 'received'
        constraint notifications_verdict_known check (verdict in (
            'received', 'valid', 'duplicate', 'bad_signature', 'missing_signature', 'malformed',
            'unknown_connection', 'forbidden_source', 'too_large', 'disabled')),
    reason text,
    key_fingerprint text,
    needs_attention boolean not null default false,
    duplicate_of bigint references notifications (id),
    response_status smallint,
    response_body text,
    latency_us bigint,
    judged_at timestamptz
);

create index notifications_by_time on notifications (received_at desc, id desc);
create index notifications_by_connection on notifications (connection_id, received_at desc, id desc);
create index notifications_needing_attention on notifications (received_at desc)
    where verdict not in ('valid', 'duplicate') or needs_attention;

-- The projection of each dispute's events: its current state, refolded from
-- all its events whenever one is added.
create table disputes (
    id bigint generated always as identity primary key,
    connection_id bigint not null references connections (id),
    dispute_ref text not null,
    stage text
        constraint disputes_stage_known check (stage in (
            'fraud_alert', 'inquiry', 'chargeback', 'pre_arbitration', 'arbitration')),
    status text
        constraint disputes_status_known check (status in (
            'needs_response', 'under_review', 'won', 'lost', 'accepted', 'expired', 'cancelled')),
    deadline timestamptz,
    amount numeric,
    currency text,
    amount_text text,
    reason text,
    payment_reference text,
    merchant_reference text,
    opened_at timestamptz not null,
    last_event_at timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint disputes_connection_ref_key unique (connection_id, dispute_ref)
);

create index disputes_due on disputes (deadline, id) where status = 'needs_response';
create index disputes_by_status on disputes (status, last_event_at desc, id desc);
create index disputes_by_connection on disputes (connection_id, last_event_at desc, id desc);
create index disputes_by_ref on disputes (dispute_ref text_pattern_ops);
create index disputes_by_payment_ref on disputes (payment_reference text_pattern_ops);
create index disputes_by_merchant_ref on disputes (merchant_reference text_pattern_ops);

-- A dispute's timeline. The unique key makes a redelivered notification a
-- duplicate even when copies arrive at the same moment.
create table dispute_events (
    id bigint generated always as identity primary key,
    dispute_id bigint not null references disputes (id),
    connection_id bigint not null references connections (id),
    notification_id bigint references notifications (id),
    event_key text not null,
    kind text not null,
    effect text not null
        constraint dispute_events_effect_known check (effect in ('sets', 'expires', 'none')),
    stage text
        constraint dispute_events_stage_known check (stage in (
            'fraud_alert', 'inquiry', 'chargeback', 'pre_arbitration', 'arbitration')),
    status text
        constraint dispute_events_status_known check (status in (
            'needs_response', 'under_review', 'won', 'lost', 'accepted', 'expired', 'cancelled')),
    occurred_at timestamptz not null,
    -- The provider's text; null when the provider gave no time (receipt time used).
    occurred_at_text text,
    deadline timestamptz,
    deadline_text text,
    amount numeric,
    currency text,
    amount_text text,
    reason text,
    reason_code text,
    provider_status text,
    payment_reference text,
    merchant_reference text,
    recorded_at timestamptz not null default now(),
    constraint dispute_events_key unique (connection_id, event_key)
);

create index dispute_events_timeline on dispute_events (dispute_id, occurred_at, id);
create index dispute_events_by_notification on dispute_events (notification_id);

-- Transactions, refunds, captures and voids a provider reported; linked to
-- disputes through the payment and merchant references.
create table payments (
    id bigint generated always as identity primary key,
    connection_id bigint not null references connections (id),
    notification_id bigint references notifications (id),
    event_key text not null,
    kind text not null,
    status text not null,
    payment_reference text not null,
    merchant_reference text,
    operation_reference text,
    amount numeric,
    currency text,
    amount_text text,
    occurred_at timestamptz,
    occurred_at_text text,
    recorded_at timestamptz not null default now(),
    constraint payments_key unique (connection_id, event_key)
);

create index payments_by_reference on payments (connection_id, payment_reference);
create index payments_by_merchant_reference on payments (connection_id, merchant_reference);
create index payments_by_notification on payments (notification_id);
