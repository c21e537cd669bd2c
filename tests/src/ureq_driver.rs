//! The seed scenario's driver for the blocking adapter, shared by the demo and the tests.

use std::time::SystemTime;

use oauth_ureq::{Error, Grant, OAuth2Session, Token};

use crate::seed::{DriverError, SeedDriver};

/// Drives an [`OAuth2Session`] of `oauth-ureq` through the seed scenario.
#[derive(Debug)]
pub struct UreqDriver {
    /// The session under test.
    pub session: OAuth2Session,
}

/// The scenario's view of an adapter error: its text and its OAuth error code.
#[must_use]
pub fn driver_error(e: &Error) -> DriverError {
    DriverError {
        display: e.to_string(),
        oauth_error: e.oauth_error().map(|o| o.error().to_owned()),
    }
}

impl SeedDriver for UreqDriver {
    fn fetch_password(&mut self, username: &str, password: &str) -> Result<(), DriverError> {
        self.session
            .fetch_token(Grant::password(username, password))
            .map(drop)
            .map_err(|e| driver_error(&e))
    }

    fn get(&mut self, url: &str) -> Result<u16, DriverError> {
        self.session
            .get(url)
            .call()
            .map(|r| r.status().as_u16())
            .map_err(|e| driver_error(&e))
    }

    fn refresh(&mut self) -> Result<(), DriverError> {
        self.session
            .refresh_token()
            .map(drop)
            .map_err(|e| driver_error(&e))
    }

    fn token(&self) -> Option<Token> {
        self.session.token()
    }

    fn refresh_at(&self) -> Option<SystemTime> {
        self.session.refresh_at()
    }
}
