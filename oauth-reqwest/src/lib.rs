//! OAuth 2.0 session over `reqwest`: placeholder until the adapter lands.
//!
//! All protocol decisions live in [`oauth_core`]; this crate will only carry out the IO.

pub use oauth_core;
