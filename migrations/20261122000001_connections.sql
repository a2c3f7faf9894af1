-- A connection is one provider account: the unit of configuration, with its
-- own intake URL (/webhooks/{slug}). Keys and provider ids come with intake.
create table connections (
    id bigint generated always as identity primary key,
    slug text not null
        constraint connections_slug_key unique
        constraint connections_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 64),
    provider text not null
        constraint connections_provider_known check (provider in ('pingpong', 'botim_money', 'payermax')),
    display_name text not null default '',
    enabled boolean not null default true,
    timezone text not null default 'UTC',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
