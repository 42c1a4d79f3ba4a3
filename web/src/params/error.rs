//! `ParamError`: a query parameter that could not be read.

/// A query parameter that could not be read. The message names the
/// parameter as the request spelled it (an old name stays old), so that
/// whoever wrote the URL sees what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(String);

impl ParamError {
    pub fn new(message: impl Into<String>) -> ParamError {
        ParamError(message.into())
    }

    /// `name` with what is wrong with its value, in the words of the value
    /// types: `limit` and `must be a number, got "x"`.
    pub fn invalid(name: &str, problem: &str) -> ParamError {
        ParamError(format!("{name} {problem}"))
    }

    pub fn unknown(name: &str) -> ParamError {
        ParamError(format!("unknown parameter {name:?}"))
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}
