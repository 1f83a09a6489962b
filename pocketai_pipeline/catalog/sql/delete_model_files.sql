DELETE FROM ml_model_files WHERE model_id = :model_id
