-- Retention removes strangers' deliveries (unknown connections, oversized
-- bodies) once they are old; this finds them without reading the rest.
create index notifications_of_strangers on notifications (received_at)
    where verdict in ('unknown_connection', 'too_large');
