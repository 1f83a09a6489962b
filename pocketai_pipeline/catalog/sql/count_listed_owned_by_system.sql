-- How many of the listed models have their row owned by the system user.
SELECT count(*)
FROM ml_models AS m
JOIN users AS u ON u.id = m.author_id
WHERE u.username = :system_username AND m.hf_model_id = ANY(CAST(:listed_ids AS text[]))
