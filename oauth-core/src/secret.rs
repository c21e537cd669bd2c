//! Redacting newtypes for every secret the protocol carries.
//!
//! Each type prints `Name([redacted])` in `Debug`, has no `Display`, wipes its bytes on drop
//! (`zeroize`) and gives its value through one accessor, [`secret`](AccessToken::secret), whose
//! name makes every use easy to find in review.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident $(, $derive:ident)*) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq, Serialize, Deserialize $(, $derive)*)]
        #[serde(transparent)]
        pub struct $name(Box<str>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into().into_boxed_str())
            }

            /// The secret value itself.
            ///
            /// **Warning**: whatever receives this string can leak it; never log or format it.
            #[must_use]
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value.into_boxed_str())
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(Box::from(value))
            }
        }
    };
}

secret_string!(
    /// An OAuth access token (RFC 6749 §1.4).
    AccessToken, Clone
);
secret_string!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken, Clone
);
secret_string!(
    /// An OpenID Connect ID token in its compact JWS form: personal data, kept out of logs.
    IdToken, Clone
);
secret_string!(
    /// A client secret (RFC 6749 §2.3.1).
    ClientSecret, Clone
);
secret_string!(
    /// A resource owner's password (RFC 6749 §4.3).
    Password, Clone
);
secret_string!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthorizationCode, Clone
);
secret_string!(
    /// A PKCE code verifier (RFC 7636 §4.1). Not `Clone`: it is used once, for one exchange.
    PkceCodeVerifier
);
secret_string!(
    /// Any other secret request parameter (an assertion, a device code, a subject token, …).
    SecretParam, Clone
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let shown = format!(
            "{:?} {:?} {:?} {:?}",
            AccessToken::new("at-value"),
            RefreshToken::new("rt-value"),
            ClientSecret::new("cs-value"),
            PkceCodeVerifier::new("verifier-value"),
        );
        assert_eq!(
            shown,
            "AccessToken([redacted]) RefreshToken([redacted]) ClientSecret([redacted]) PkceCodeVerifier([redacted])"
        );
    }

    #[test]
    fn serde_is_transparent_for_persistence() {
        let json = serde_json::to_string(&RefreshToken::new("rt")).expect("serialises");
        assert_eq!(json, "\"rt\"");
        let back: RefreshToken = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back.secret(), "rt");
    }
}
