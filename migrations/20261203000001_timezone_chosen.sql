-- Whether the account's zone is settled: picked by its person, or taken
-- from their browser at a sign-in. Until then, the browser's zone at
-- sign-in is taken (a new account otherwise reads every time in UTC). A
-- zone other than UTC, or one its person set (even to UTC), is settled.
alter table users add column timezone_chosen boolean not null default false;
update users u set timezone_chosen = true
where u.timezone <> 'UTC'
   or exists (select from audit_log a where a.action = 'user.timezone' and a.actor_id = u.id);
