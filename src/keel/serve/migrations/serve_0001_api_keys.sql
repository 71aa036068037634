-- API keys of the HTTP service: only salted hashes are stored (keel.serve.keys).
create table if not exists keel_api_keys (
    key_id text primary key,
    tenant text not null,
    scopes text not null,
    name text not null,
    hash text not null,
    created double precision not null,
    revoked double precision
);
create index if not exists keel_api_keys_tenant on keel_api_keys (tenant, created);
