SELECT count(*) FROM ml_models
