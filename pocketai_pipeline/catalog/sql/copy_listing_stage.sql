COPY hf_listing_stage (
    hf_model_id, name, origin_repo_url, tags, task, license_type,
    downloads, likes, gated, hf_sha, hf_created_at, hf_last_modified
) FROM STDIN
