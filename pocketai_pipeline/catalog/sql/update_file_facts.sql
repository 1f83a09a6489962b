-- One runtime file's facts (rule 13), only while it is still pending (a newer revision replaces the row).
UPDATE ml_model_files
SET format = :format,
    quantization = :quantization,
    max_context_tokens = :max_context_tokens,
    input_modalities = :input_modalities,
    backends = :backends,
    target_soc = :target_soc,
    platform = :platform,
    supports_thinking = :supports_thinking,
    supports_function_calling = :supports_function_calling,
    supports_speculative_decoding = :supports_speculative_decoding,
    min_runtime_version = :min_runtime_version,
    container_version = :container_version,
    min_device_memory_gb = :min_device_memory_gb,
    facts_status = :facts_status,
    facts_error = :facts_error
WHERE id = :file_id
  AND facts_status = 'pending'
