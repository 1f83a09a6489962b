-- Only the records that differ from the catalog (new, changed, or listed again after removal).
-- Lists are PostgreSQL array literals and timestamps microseconds since 1970 UTC: both cast back
-- exactly in insert_new_models / update_changed_models, and are cheap to COPY.
CREATE TEMP TABLE hf_listing_stage (
    hf_model_id text NOT NULL,
    name text,
    origin_repo_url text,
    tags text,
    task text,
    license_type text,
    downloads bigint,
    likes bigint,
    gated boolean,
    hf_sha text,
    hf_created_at_us bigint,
    hf_last_modified_us bigint,
    hf_license_id text,
    hf_license_name text,
    library_name text,
    base_models text,
    runtime_formats text,
    hf_gated text,
    hf_sync_hash bytea NOT NULL
) ON COMMIT DROP
