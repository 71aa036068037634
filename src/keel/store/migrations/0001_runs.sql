-- Run logs: the append-only events and the derived index of runs.
create table if not exists keel_events (
    run_id text not null,
    seq integer not null,
    type text not null,
    ts double precision not null,
    data text not null,
    primary key (run_id, seq)
);
create table if not exists keel_runs (
    run_id text primary key,
    agent text not null,
    session_id text,
    parent_run_id text,
    status text not null,
    created double precision not null,
    updated double precision not null,
    tenant text,
    last_seq integer not null
);
create index if not exists keel_runs_session on keel_runs (session_id, created);
create index if not exists keel_runs_status on keel_runs (status, created);
create index if not exists keel_runs_tenant on keel_runs (tenant, created);
