COPY hf_listing_stage (
    hf_model_id, name, origin_repo_url, tags, task, license_type,
    downloads, likes, gated, hf_sha, hf_created_at_us, hf_last_modified_us,
    hf_license_id, hf_license_name, library_name, base_models, runtime_formats, hf_gated, hf_sync_hash
) FROM STDIN WITH (FORMAT BINARY)
