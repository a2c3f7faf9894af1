-- Whether the person has chosen the zone their times are shown in. Until
-- then, the browser's zone at sign-in is taken for them (a new account
-- otherwise reads every time in UTC). A zone other than UTC was chosen.
alter table users add column timezone_chosen boolean not null default false;
update users set timezone_chosen = true where timezone <> 'UTC';
