//! Names that end up in Redis keys and hash fields, restricted to characters
//! that cannot break the key grammar (`:`, `{`, `}`, whitespace).
//!
//! A name is shared, not copied: every tick, metric label set and queue
//! default of a large config refers to the one allocation.

use std::fmt;
use std::sync::Arc;

/// A name that cannot be part of a key; the message names its kind (job,
/// queue) and quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} name {name:?} must be 1-128 characters of letters, digits, '-', '_' and '.', starting with a letter or digit"
)]
pub struct InvalidName {
    pub kind: &'static str,
    pub name: String,
}

fn check(kind: &'static str, name: &str) -> Result<(), InvalidName> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid { Ok(()) } else { Err(InvalidName { kind, name: name.to_owned() }) }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(Arc<str>);

        impl $ty {
            pub fn new(name: &str) -> Result<Self, InvalidName> {
                check($kind, name).map(|()| $ty(Arc::from(name)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl From<&$ty> for Arc<str> {
            fn from(name: &$ty) -> Arc<str> {
                name.0.clone()
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A job's name: the `NAME` of `[jobs.NAME]`.
    JobName,
    "job"
);
name_type!(
    /// A queue's name.
    QueueName,
    "queue"
);
