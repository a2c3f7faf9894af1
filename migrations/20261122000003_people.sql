-- People and access: accounts with one role each, single-use setup tokens,
-- sign-in attempts (for throttling) and the append-only audit log.

create table users (
    id bigint generated always as identity primary key,
    email text not null
        constraint users_email_lower check (email = lower(email)),
    display_name text not null,
    role text not null
        constraint users_role_known check (role in ('analyst', 'ops', 'admin')),
    password_hash text not null,
    must_change_password boolean not null default false,
    disabled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint users_email_key unique (email)
);

-- Only a hash of each token is kept; the token itself is printed once.
create table setup_tokens (
    id bigint generated always as identity primary key,
    token_sha256 bytea not null constraint setup_tokens_token_key unique,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);

create table login_attempts (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    email text not null,
    address text not null,
    succeeded boolean not null
);

create index login_attempts_by_email on login_attempts (email, at desc);
create index login_attempts_by_address on login_attempts (address, at desc);

-- Every change made by a person. Secrets appear only as fingerprints.
create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_id bigint references users (id),
    actor_email text,
    address text,
    action text not null,
    subject text not null,
    details jsonb not null default '{}'
);

create index audit_log_by_time on audit_log (at desc, id desc);
create index audit_log_by_actor on audit_log (actor_email, at desc);
create index audit_log_by_action on audit_log (action, at desc);

create function audit_log_is_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'the audit log is append-only';
end;
$$;

create trigger audit_log_append_only
    before update or delete or truncate on audit_log
    for each statement execute function audit_log_is_append_only();
