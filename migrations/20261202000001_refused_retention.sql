-- Refused deliveries nobody signed (bad or missing signature, unreadable
-- before the signature could be checked, a sender outside the allowlist,
-- a disabled connection) are kept for their own retention period; this
-- finds the old ones without reading the rest.
create index notifications_unsigned_refusals on notifications (received_at)
    where verdict in ('bad_signature', 'missing_signature', 'malformed', 'forbidden_source', 'disabled')
      and key_fingerprint is null;
