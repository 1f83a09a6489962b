-- A few runtime files whose header was read, largest context first: what the app sees of them.
SELECT hf_model_id, path, quantization, max_context_tokens, input_modalities, backends, min_device_memory_gb
FROM app_runtime_files
WHERE facts_status = 'read'
ORDER BY max_context_tokens DESC NULLS LAST, hf_model_id, path
LIMIT :limit
