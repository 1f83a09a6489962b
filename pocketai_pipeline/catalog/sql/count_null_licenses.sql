SELECT count(*) FROM ml_models WHERE license_type IS NULL
