-- What was read from a .litertlm header, kept by sha256 so that no file with it is read again (rule 13).
INSERT INTO litertlm_headers (
    sha256, status, error, container_version, max_context_tokens, input_modalities, backends, target_soc,
    supports_thinking, supports_function_calling, supports_speculative_decoding, min_runtime_version
)
VALUES (
    :sha256, :status, :error, :container_version, :max_context_tokens, :input_modalities, :backends, :target_soc,
    :supports_thinking, :supports_function_calling, :supports_speculative_decoding, :min_runtime_version
)
ON CONFLICT (sha256) DO NOTHING
