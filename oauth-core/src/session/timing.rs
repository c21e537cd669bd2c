//! When a token is due and when it stops being sent: the leeway, clamped to half the lifetime,
//! and the transit margin (see the module documentation of [`super`]).

use std::time::{Duration, SystemTime};

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
