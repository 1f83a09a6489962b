-- How many runtime files the app can choose from, by how much is known of them (rule 13).
SELECT facts_status, count(*) AS files
FROM app_runtime_files
GROUP BY facts_status
ORDER BY files DESC
