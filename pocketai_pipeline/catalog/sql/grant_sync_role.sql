-- Least privilege: what the sync needs, and nothing more, for the role {role} (contract rules 1, 5-14).
-- No DDL (the schema's owner runs the migrations), nothing on model_versions or the app's other tables.
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON pocketai_pipeline_alembic_version TO {role};
GRANT SELECT, INSERT ON users TO {role};
GRANT SELECT, INSERT, UPDATE ON ml_models TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ml_model_files TO {role};
-- The file history is only ever added to (rule 14); a header read is kept once per sha256 (rule 13).
GRANT SELECT, INSERT ON ml_model_file_revisions, litertlm_headers TO {role};
GRANT SELECT, INSERT ON hf_sync_applied_listings TO {role};
GRANT USAGE ON SEQUENCE users_id_seq, ml_models_id_seq, ml_model_files_id_seq, hf_sync_applied_listings_id_seq TO {role};
