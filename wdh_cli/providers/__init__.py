"""Company-information providers: EQC over HTTP, an offline directory, none."""
