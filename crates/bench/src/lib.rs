//! Reference programs for `bench/run.sh`; see the binaries.
