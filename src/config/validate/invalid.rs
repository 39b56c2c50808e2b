//! Why one TOML value is not valid: the message of a [`Diagnostic`],
//! which adds the file, line, job and field.

use std::fmt;

use crate::config::format;
use crate::config::{InvalidName, UrlError};
use crate::duration::SpanError;

#[cfg(doc)]
use super::Diagnostic;

/// A value's problem, worded to follow `file:line: job: field: `. Plain
/// text: the validators word their own messages, and the typed errors of
/// the parsers they call convert into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid(pub(super) String);

impl Invalid {
    pub(super) fn into_message(self) -> String {
        self.0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Invalid {
        Invalid(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Invalid {
        Invalid(message.to_owned())
    }
}

/// `invalid!("{n} is out of range")`: an [`Invalid`] worded like `format!`.
macro_rules! invalid {
    ($($arg:tt)*) => {
        $crate::config::validate::invalid::Invalid(format!($($arg)*))
    };
}
pub(super) use invalid;

macro_rules! from_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Invalid {
            fn from(e: $ty) -> Invalid {
                Invalid(e.to_string())
            }
        }
    )*};
}

from_error!(SpanError, InvalidName, UrlError, format::Invalid);
