-- A step's call is recorded as sending before it goes out, so a sender
-- that dies before recording the answer leaves a trace that the provider
-- may have acted on it.
alter table submission_steps drop constraint submission_steps_outcome_known,
    add constraint submission_steps_outcome_known
        check (outcome in ('sending', 'done', 'refused', 'failed'));
