-- Least privilege: what the sync needs, and nothing more, for the role {role} (contract rules 1, 5-12).
-- No DDL (the schema's owner runs the migrations), nothing on model_versions or the app's other tables.
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON pocketai_pipeline_alembic_version TO {role};
GRANT SELECT, INSERT ON users TO {role};
GRANT SELECT, INSERT, UPDATE ON ml_models TO {role};
GRANT SELECT, INSERT, DELETE ON ml_model_files TO {role};
GRANT SELECT, INSERT ON hf_sync_applied_listings TO {role};
GRANT USAGE ON SEQUENCE users_id_seq, ml_models_id_seq, ml_model_files_id_seq, hf_sync_applied_listings_id_seq TO {role};
