//! Test harness shared by the workspace-level tests.
