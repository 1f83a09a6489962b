CREATE TEMP TABLE hf_listing_stage (
    hf_model_id text PRIMARY KEY,
    name text,
    origin_repo_url text,
    tags text[],
    task text,
    license_type license_type,
    downloads bigint,
    likes bigint,
    gated boolean,
    hf_sha text,
    hf_created_at timestamptz,
    hf_last_modified timestamptz,
    hf_license_id text,
    hf_license_name text,
    library_name text,
    base_models text[],
    runtime_formats text[]
) ON COMMIT DROP
