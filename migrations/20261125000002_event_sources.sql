-- An event is recorded from a notification, from a replay of a stored one,
-- or from a status query's answer (who asked, and the answer as received).
alter table dispute_events
    add column source text not null default 'notification'
        constraint dispute_events_source_known
            check (source in ('notification', 'replay', 'status_query')),
    add column queried_by bigint references users (id),
    add column query_answer text,
    add constraint dispute_events_query_has_answer
        check ((source = 'status_query') = (query_answer is not null));
