// The URIs and file names of the verification statement (see docs/provenance.md).

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const VERIFIER_ID = 'https://github.com/repro-gate/repro-gate';
/** The predicate's extension field: VSA producers add fields whose names are URIs. */
export const PROVENANCE_EXTENSION = 'https://github.com/repro-gate/repro-gate/blob/v1/docs/provenance.md#verification-v1';

export const STATEMENT_FILE_NAME = 'provenance.json';
export const PREDICATE_FILE_NAME = 'predicate.json';
export const CHECKSUMS_FILE_NAME = 'checksums.txt';
/** Beside the statement when several records were verified: their paths and sha256, the statement's policy. */
export const RECORDS_LIST_FILE_NAME = 'records.sha256';
