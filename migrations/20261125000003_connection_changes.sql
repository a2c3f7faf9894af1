-- Every change to a connection or its keys is announced on a channel, so
-- each server's cache of connections (for intake) drops what changed at
-- once, whichever replica made the change.
create function announce_connection_change() returns trigger
language plpgsql as $$
begin
    perform pg_notify('dispute_desk_connections', '');
    return null;
end;
$$;

create trigger connections_announce_change
    after insert or update or delete or truncate on connections
    for each statement execute function announce_connection_change();

create trigger connection_keys_announce_change
    after insert or update or delete or truncate on connection_keys
    for each statement execute function announce_connection_change();
