-- The analyst's desk: the reason code projected like the reason, who owns
-- a dispute, notes and assignments (kept, never edited), saved views, each
-- person's time zone, and an index for each order the work queue offers.

alter table disputes add column reason_code text;

-- The fold decides the reason code from now on; for disputes folded before,
-- the latest event of the dispute's stage that carries one.
update disputes d
set reason_code = (
    select e.reason_code from dispute_events e
    where e.dispute_id = d.id and e.reason_code is not null
        and (d.stage is null or e.stage = d.stage)
    order by e.occurred_at desc, e.id desc
    limit 1
);

-- Not projected from events: an analyst's choice, changed only by an
-- assignment, which the intake's writes never touch.
alter table disputes add column assignee_id bigint
    constraint disputes_assignee_fkey references users (id);

create table dispute_notes (
    id bigint generated always as identity primary key,
    dispute_id bigint not null constraint dispute_notes_dispute_fkey references disputes (id),
    author_id bigint not null constraint dispute_notes_author_fkey references users (id),
    body text not null
        constraint dispute_notes_body_size check (length(body) between 1 and 10000),
    created_at timestamptz not null default now()
);

create index dispute_notes_of_dispute on dispute_notes (dispute_id, created_at, id);

-- Each change of owner; `assignee_id` null means the dispute was unassigned.
create table dispute_assignments (
    id bigint generated always as identity primary key,
    dispute_id bigint not null
        constraint dispute_assignments_dispute_fkey references disputes (id),
    assignee_id bigint constraint dispute_assignments_assignee_fkey references users (id),
    assigned_by bigint not null
        constraint dispute_assignments_by_fkey references users (id),
    created_at timestamptz not null default now()
);

create index dispute_assignments_of_dispute on dispute_assignments (dispute_id, created_at, id);

create function desk_history_is_append_only() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name;
end;
$$;

create trigger dispute_notes_append_only before update or delete on dispute_notes
    for each row execute function desk_history_is_append_only();
create trigger dispute_assignments_append_only before update or delete on dispute_assignments
    for each row execute function desk_history_is_append_only();

-- A person's named work-queue filters: the query string of the view.
create table saved_views (
    id bigint generated always as identity primary key,
    user_id bigint not null constraint saved_views_user_fkey references users (id),
    name text not null constraint saved_views_name_size check (length(name) between 1 and 80),
    query text not null constraint saved_views_query_size check (length(query) <= 4000),
    created_at timestamptz not null default now(),
    constraint saved_views_name_key unique (user_id, name)
);

-- Times on the pages are also shown in this zone (an IANA name).
alter table users add column timezone text not null default 'UTC';

-- One index per order of the work queue (ties broken by id, so keyset
-- pages never lose or repeat a row). Missing deadlines and amounts sort
-- last through their sentinel.
drop index disputes_due;
-- A status and the deadline order together (the default view, and every
-- status filter sorted by deadline); the deadlines board sums the amounts
-- at risk from this index alone.
create index disputes_due on disputes (status, (coalesce(deadline, 'infinity'::timestamptz)), id)
    include (currency, amount, deadline);
-- Over any status, what needs a response comes first (only it has deadlines).
create index disputes_by_deadline
    on disputes ((status is distinct from 'needs_response'), (coalesce(deadline, 'infinity'::timestamptz)), id);
create index disputes_by_opened on disputes (opened_at, id);
create index disputes_by_last_event on disputes (last_event_at, id);
create index disputes_by_amount on disputes ((coalesce(amount, '-Infinity'::numeric)), id);
create index disputes_by_reason_code on disputes (reason_code);
create index disputes_by_assignee on disputes (assignee_id) where assignee_id is not null;

-- A timeline counts each event's redeliveries instead of repeating them.
create index notifications_duplicates on notifications (duplicate_of)
    where duplicate_of is not null;
