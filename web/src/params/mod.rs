//! Query parameters: every page and endpoint reads its query string into
//! a typed struct of this module, through one reader, so that a parameter
//! means the same everywhere and a wrong one is named in the error.
//!
//! - `error`: `ParamError`, a parameter that could not be read.
//! - `queries`: the parameters of each page and endpoint.
//! - `reader`: `Pairs` (the query string, empty values left out),
//!   `FromQuery`, `Windowed` (a window beside other parameters), `Unknown`.
//! - `values`: what a parameter's text can be (numbers, ids, filters).
//! - `window`: the time window of every page and endpoint; pure.

mod error;
mod queries;
mod reader;
mod values;
mod window;

pub use error::ParamError;
pub use queries::{
    Baseline, ChangeQuery, ChartQuery, CompareQuery, CostQuery, ExplorerQuery, LoadPageQuery,
    LoadQuery, LogsPageQuery, LogsQuery, MAX_ATTR, NoParams, PointsQuery, ReleasesQuery, RowsQuery,
    SearchQuery, TraceCompareQuery, TraceViewQuery, TracesQuery,
};
pub use reader::{Also, FromQuery, Pairs, Unknown, Windowed};
pub use values::{
    Attr, Cursor, Flag, Format, Millis, Number, Severity, Sort, StatusFilter, TraceId,
};
pub use window::{
    DefaultWindow, LAST_DAY, LAST_HOUR, TimeParams, TimeSpec, TimeText, Window, earlier_window,
    now_ns, parse_duration, parse_time,
};
