//! Query parameters, starting with the one time-window model.
//!
//! - `error`: `ParamError`, a parameter that could not be read.
//! - `window`: the time window of every page and endpoint; pure.

mod error;
mod window;

pub use error::ParamError;
pub use window::{
    DefaultWindow, LAST_DAY, LAST_HOUR, TimeParams, TimeSpec, TimeText, Window, now_ns,
    parse_duration, parse_time,
};
