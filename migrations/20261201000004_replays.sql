-- Each replay of a stored delivery is its own judgement, linked to the
-- original, whose verdict is never changed; kept, never edited.
create table delivery_replays (
    id bigint generated always as identity primary key,
    notification_id bigint not null
        constraint delivery_replays_notification_fkey references notifications (id),
    replayed_by bigint constraint delivery_replays_by_fkey references users (id),
    replayed_at timestamptz not null default now(),
    verdict text not null,
    reason text,
    key_fingerprint text,
    outcome text not null
        constraint delivery_replays_outcome_known check (outcome in (
            'new_event', 'already_recorded', 'refused', 'payment_not_replayed')),
    event_id bigint constraint delivery_replays_event_fkey references dispute_events (id)
);

create index delivery_replays_of_notification on delivery_replays (notification_id, id);

create trigger delivery_replays_append_only before update or delete on delivery_replays
    for each row execute function desk_history_is_append_only();
