-- The links a provider fetches a submitted response's files from
-- (PayerMax's `representmentFile`): one per submission and file, made when
-- the reply is sent, expiring, revocable; each fetch is logged with when,
-- from where and how many bytes went.

create table evidence_links (
    id bigint generated always as identity primary key,
    submission_id bigint not null
        constraint evidence_links_submission_fkey references submissions (id),
    -- A file removed from a response sent back to draft takes its links
    -- and their log with it (the removal is audited).
    file_id bigint not null constraint evidence_links_file_fkey
        references evidence_files (id) on delete cascade,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    revoked_by bigint constraint evidence_links_revoked_by_fkey references users (id),
    constraint evidence_links_once unique (submission_id, file_id)
);

create table evidence_link_fetches (
    id bigint generated always as identity primary key,
    link_id bigint not null constraint evidence_link_fetches_link_fkey
        references evidence_links (id) on delete cascade,
    at timestamptz not null default now(),
    address text not null,
    status smallint not null,
    bytes bigint not null
);

create index evidence_link_fetches_of_link on evidence_link_fetches (link_id, id);

-- A confirmation holds what its page showed: whether it records a response
-- sent outside the desk, and the response as it stood (its last change),
-- so a response changed since is not sent unseen.
alter table confirm_tokens
    add column outside boolean not null default false,
    add column response_updated_at timestamptz;
