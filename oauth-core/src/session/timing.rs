//! When a token is due and when it stops being sent: the leeway, clamped to half the lifetime,
//! and the transit margin (see the module documentation of [`super`]); when an exchange counts
//! as lost, and a refresh on the wire stands for the token that carries its refresh token.

use std::time::{Duration, SystemTime};

use super::Renewal;
use crate::token::Token;

/// Where a token stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Fresh,
    /// Inside the leeway: still valid, renew now.
    Due,
    Expired,
}

/// The most of a token's life kept back for the trip of the last request signed with it.
pub const TRANSIT_MARGIN: Duration = Duration::from_secs(1);

/// When a token stops being sent: `expires_at` minus a transit margin of
/// [`TRANSIT_MARGIN`], at most a quarter of the lifetime. A request signed in the very last
/// moment would reach the resource server after the token expired and earn a 401.
fn usable_until(token: &Token) -> Option<SystemTime> {
    let expires_at = token.expires_at()?;
    let margin = match token.issued_at() {
        Some(issued_at) => TRANSIT_MARGIN.min(
            expires_at
                .duration_since(issued_at)
                .unwrap_or(Duration::ZERO)
                / 4,
        ),
        None => TRANSIT_MARGIN,
    };
    Some(expires_at.checked_sub(margin).unwrap_or(expires_at))
}

/// `expires_at` minus the leeway, the leeway clamped to half the lifetime when it is known, and
/// never later than [`usable_until`].
pub(super) fn refresh_at(token: &Token, leeway: Duration) -> Option<SystemTime> {
    let expires_at = token.expires_at()?;
    let leeway = match token.issued_at() {
        Some(issued_at) => {
            let lifetime = expires_at
                .duration_since(issued_at)
                .unwrap_or(Duration::ZERO);
            leeway.min(lifetime / 2)
        }
        None => leeway,
    };
    let by_leeway = expires_at.checked_sub(leeway).unwrap_or(expires_at);
    usable_until(token).map(|until| by_leeway.min(until))
}

pub(super) fn stage(token: &Token, leeway: Duration, now: SystemTime) -> Stage {
    match (refresh_at(token, leeway), usable_until(token)) {
        (Some(refresh_at), Some(usable_until)) => {
            if now < refresh_at {
                Stage::Fresh
            } else if now < usable_until {
                Stage::Due
            } else {
                Stage::Expired
            }
        }
        _ => Stage::Fresh,
    }
}

impl super::TokenSession {
    /// When the token's refresh token is on the wire in an unanswered refresh (the token was
    /// set back meanwhile, say), that refresh counts as this token's renewal in flight: no
    /// second request carries the same refresh token.
    pub(super) fn adopt_refresh_on_the_wire(&mut self, now: SystemTime) {
        if matches!(self.renewal, Renewal::InFlight { .. }) {
            return;
        }
        let Some(current) = self.token.as_ref().and_then(Token::refresh_token) else {
            return;
        };
        let sent = self
            .on_the_wire
            .iter()
            .find(|(_, refresh_token, started_at)| {
                refresh_token.secret() == current.secret() && !self.abandoned(*started_at, now)
            });
        if let Some(&(id, _, started_at)) = sent {
            self.renewal = Renewal::InFlight { id, started_at };
        }
    }

    /// Whether an exchange started at `started_at` counts as lost at `now`.
    pub(super) fn abandoned(&self, started_at: SystemTime, now: SystemTime) -> bool {
        self.exchange_timeout.is_some_and(|timeout| {
            now.duration_since(started_at)
                .is_ok_and(|elapsed| elapsed >= timeout)
        })
    }
}
