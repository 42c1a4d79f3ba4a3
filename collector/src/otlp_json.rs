//! Decoding of OTLP/JSON request bodies into the `opentelemetry-proto` types.
//!
//! The body is parsed into a `serde_json::Value` and walked by hand instead of
//! being deserialized through derived impls, because OTLP/JSON departs from
//! what a derive can express: ids are hex (not the base64 of the protobuf JSON
//! mapping), 64-bit integers come as numbers or strings, enums as numbers or
//! names, both lowerCamelCase and `snake_case` field names are valid, and `null`
//! stands for the default value. Walking by hand also lets every error name the
//! JSON path of the field at fault.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::num::IntErrorKind;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{
    LogRecord, LogRecordFlags, ResourceLogs, ScopeLogs, SeverityNumber,
};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, DataPointFlags, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, exemplar, metric,
    number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, SpanFlags, Status};
use serde_json::{Map, Value};

/// Why an OTLP/JSON body was rejected; the message names the JSON path of the
/// offending field when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// Attribute values nest arrays and maps without bound in the data model; the
/// limit keeps the recursion over them bounded whatever the `Value` holds.
const MAX_VALUE_DEPTH: usize = 64;

/// Largest magnitude up to which an `f64` still holds every integer, so an
/// integral float in range means exactly the integer the sender wrote.
const MAX_EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

type Obj = Map<String, Value>;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` body.
///
/// # Errors
///
/// A [`JsonError`] naming the offending JSON path when the body is not valid
/// OTLP/JSON.
pub fn decode_traces(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    let root = parse(body)?;
    let mut req = ExportTraceServiceRequest::default();
    fields(&root, &Path::Root, |name, v, p| {
        if name == "resourceSpans" {
            req.resource_spans = messages(v, p, resource_spans)?;
        }
        Ok(())
    })?;
    Ok(req)
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest` body.
///
/// # Errors
///
/// A [`JsonError`] naming the offending JSON path when the body is not valid
/// OTLP/JSON.
pub fn decode_logs(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    let root = parse(body)?;
    let mut req = ExportLogsServiceRequest::default();
    fields(&root, &Path::Root, |name, v, p| {
        if name == "resourceLogs" {
            req.resource_logs = messages(v, p, resource_logs)?;
        }
        Ok(())
    })?;
    Ok(req)
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest` body.
///
/// # Errors
///
/// A [`JsonError`] naming the offending JSON path when the body is not valid
/// OTLP/JSON.
pub fn decode_metrics(body: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    let root = parse(body)?;
    let mut req = ExportMetricsServiceRequest::default();
    fields(&root, &Path::Root, |name, v, p| {
        if name == "resourceMetrics" {
            req.resource_metrics = messages(v, p, resource_metrics)?;
        }
        Ok(())
    })?;
    Ok(req)
}

fn parse(body: &[u8]) -> Result<Obj, JsonError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(root)) => Ok(root),
        Ok(other) => Err(JsonError(format!(
            "expected a json object at the top level, got {}",
            kind(&other)
        ))),
        // serde_json words this one with a capitalised "EOF"; the rest of its
        // messages are already lowercase.
        Err(e) if e.is_eof() => Err(JsonError(format!(
            "invalid json: unexpected end of input at line {} column {}",
            e.line(),
            e.column()
        ))),
        Err(e) => Err(JsonError(format!("invalid json: {e}"))),
    }
}

// ---------------------------------------------------------------------------
// JSON paths

/// Where in the document a value sits. It is a chain of borrows so that the
/// happy path builds no strings: the text is only rendered for an error.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn field<'b>(&'b self, name: &'b str) -> Path<'b> {
        Path::Field(self, name)
    }

    fn index(&self, i: usize) -> Path<'_> {
        Path::Index(self, i)
    }

    fn render(&self, out: &mut String) {
        match *self {
            Path::Root => {}
            Path::Field(parent, name) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Path::Index(parent, i) => {
                parent.render(out);
                let _ = write!(out, "[{i}]");
            }
        }
    }

    fn error(&self, msg: impl fmt::Display) -> JsonError {
        let mut out = String::new();
        self.render(&mut out);
        if out.is_empty() {
            out = msg.to_string();
        } else {
            let _ = write!(out, ": {msg}");
        }
        JsonError(out)
    }
}

// ---------------------------------------------------------------------------
// Structure

/// Calls `f` with each non-null member of `o`, its name in lowerCamelCase and
/// its path. Skipping nulls here is what makes `null` mean "absent": every
/// target starts out at its default.
fn fields(
    o: &Obj,
    p: &Path<'_>,
    mut f: impl FnMut(&str, &Value, &Path<'_>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    for (key, v) in o {
        if v.is_null() {
            continue;
        }
        let name = camel_case(key);
        f(&name, v, &p.field(&name))?;
    }
    Ok(())
}

/// The protobuf JSON mapping allows the original proto field names as well;
/// folding them onto lowerCamelCase lets each message match one spelling, and
/// paths in errors always use the canonical one.
fn camel_case(key: &str) -> Cow<'_, str> {
    if !key.contains('_') {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn type_error(v: &Value, p: &Path<'_>, want: &str) -> JsonError {
    p.error(format!("expected {want}, got {}", kind(v)))
}

fn object<'v>(v: &'v Value, p: &Path<'_>) -> Result<&'v Obj, JsonError> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(type_error(v, p, "an object")),
    }
}

fn repeated<T>(
    v: &Value,
    p: &Path<'_>,
    mut f: impl FnMut(&Value, &Path<'_>) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    let Value::Array(items) = v else {
        return Err(type_error(v, p, "an array"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| f(item, &p.index(i)))
        .collect()
}

type Decoder<T> = fn(&Obj, &Path<'_>) -> Result<T, JsonError>;

fn message<T>(v: &Value, p: &Path<'_>, f: Decoder<T>) -> Result<T, JsonError> {
    f(object(v, p)?, p)
}

fn messages<T>(v: &Value, p: &Path<'_>, f: Decoder<T>) -> Result<Vec<T>, JsonError> {
    repeated(v, p, |item, p| message(item, p, f))
}

/// Sets a oneof; a second member of the same oneof is an error, as in the
/// protobuf JSON mapping, rather than silently depending on member order.
/// `p` is the enclosing message's path, since naming whichever member came
/// second would itself depend on the map's order.
fn set_oneof<T>(
    slot: &mut Option<T>,
    value: T,
    p: &Path<'_>,
    members: &str,
) -> Result<(), JsonError> {
    if slot.is_some() {
        return Err(p.error(format!("only one of {members} may be set")));
    }
    *slot = Some(value);
    Ok(())
}

// ---------------------------------------------------------------------------
// Scalars

fn string(v: &Value, p: &Path<'_>) -> Result<String, JsonError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(type_error(v, p, "a string")),
    }
}

fn boolean(v: &Value, p: &Path<'_>) -> Result<bool, JsonError> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(type_error(v, p, "a boolean")),
    }
}

/// Any JSON integer as an `i128`, wide enough for both `u64` and `i64` so
/// that range checks happen in one place, in [`int`].
fn integer(v: &Value, p: &Path<'_>) -> Result<i128, JsonError> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return Ok(i128::from(u));
            }
            if let Some(i) = n.as_i64() {
                return Ok(i128::from(i));
            }
            // serde_json reads anything with a fraction or an exponent as a
            // float. The protobuf JSON mapping accepts such a number when it
            // is integral (`1e3`, `5.0`), as long as the float cannot have
            // rounded what the sender wrote.
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT_F64_INT => Ok(f as i128),
                _ => Err(p.error(format!("expected an integer, got {n}"))),
            }
        }
        Value::String(s) => s.parse::<i128>().map_err(|e| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                p.error(format!("{s:?} is out of range"))
            }
            _ => p.error(format!("invalid integer {s:?}")),
        }),
        _ => Err(type_error(v, p, "an integer")),
    }
}

fn int<T: TryFrom<i128>>(v: &Value, p: &Path<'_>, ty: &str) -> Result<T, JsonError> {
    let n = integer(v, p)?;
    T::try_from(n).map_err(|_| p.error(format!("{n} is out of range for {ty}")))
}

fn uint64(v: &Value, p: &Path<'_>) -> Result<u64, JsonError> {
    int(v, p, "uint64")
}

fn int64(v: &Value, p: &Path<'_>) -> Result<i64, JsonError> {
    int(v, p, "int64")
}

fn uint32(v: &Value, p: &Path<'_>) -> Result<u32, JsonError> {
    int(v, p, "uint32")
}

fn int32(v: &Value, p: &Path<'_>) -> Result<i32, JsonError> {
    int(v, p, "int32")
}

fn double(v: &Value, p: &Path<'_>) -> Result<f64, JsonError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| p.error(format!("invalid number {n}"))),
        // Rust's float parser takes the mapping's "NaN", "Infinity" and
        // "-Infinity" as well as quoted decimal numbers; that it also takes
        // spellings like "inf" does no harm.
        Value::String(s) => s
            .parse::<f64>()
            .map_err(|_| p.error(format!("invalid number {s:?}"))),
        _ => Err(type_error(v, p, "a number")),
    }
}

/// Trace and span ids: OTLP/JSON writes them in hex, unlike the base64 the
/// generic protobuf mapping would use. Lengths are the caller's business, so
/// that one bad id can be rejected per item rather than per request.
fn id(v: &Value, p: &Path<'_>) -> Result<Vec<u8>, JsonError> {
    let Value::String(s) = v else {
        return Err(type_error(v, p, "a hex string"));
    };
    hex::decode(s).map_err(|e| {
        p.error(match e {
            hex::FromHexError::OddLength => "invalid hex (odd length)".to_owned(),
            hex::FromHexError::InvalidHexCharacter { c, index } => {
                format!("invalid hex (unexpected {c:?} at offset {index})")
            }
            hex::FromHexError::InvalidStringLength => "invalid hex".to_owned(),
        })
    })
}

/// The mapping specifies padded standard base64, but encoders also send the
/// URL-safe alphabet or leave the padding off; neither is ambiguous.
const BASE64_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const BASE64_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

fn base64_bytes(v: &Value, p: &Path<'_>) -> Result<Vec<u8>, JsonError> {
    let Value::String(s) = v else {
        return Err(type_error(v, p, "a base64 string"));
    };
    // The alphabets differ only in the two characters checked here.
    let engine = if s.contains(['-', '_']) {
        &BASE64_URL_SAFE
    } else {
        &BASE64_STANDARD
    };
    engine.decode(s).map_err(|_| p.error("invalid base64"))
}

type ByName = fn(&str) -> Option<i32>;

/// An enum as its number or its proto name. Numbers outside the enum are
/// kept, as prost stores enums as plain `i32`.
fn enumeration(v: &Value, p: &Path<'_>, by_name: ByName) -> Result<i32, JsonError> {
    let Value::String(s) = v else {
        return int32(v, p);
    };
    if let Some(n) = by_name(s) {
        return Ok(n);
    }
    // Some encoders quote enum numbers like they quote 64-bit integers.
    s.parse::<i32>()
        .map_err(|_| p.error(format!("unknown enum value {s:?}")))
}

/// A flags field: a `u32` in the proto, but with a companion enum of bit
/// masks whose names are accepted like an enum's.
fn flags(v: &Value, p: &Path<'_>, by_name: ByName) -> Result<u32, JsonError> {
    if let Value::String(s) = v
        && let Some(n) = by_name(s)
    {
        return u32::try_from(n).map_err(|_| p.error(format!("{n} is out of range for uint32")));
    }
    uint32(v, p)
}

fn span_kind(s: &str) -> Option<i32> {
    SpanKind::from_str_name(s).map(i32::from)
}

fn status_code(s: &str) -> Option<i32> {
    StatusCode::from_str_name(s).map(i32::from)
}

fn span_flags(s: &str) -> Option<i32> {
    SpanFlags::from_str_name(s).map(i32::from)
}

fn severity_number(s: &str) -> Option<i32> {
    SeverityNumber::from_str_name(s).map(i32::from)
}

fn log_record_flags(s: &str) -> Option<i32> {
    LogRecordFlags::from_str_name(s).map(i32::from)
}

fn aggregation_temporality(s: &str) -> Option<i32> {
    AggregationTemporality::from_str_name(s).map(i32::from)
}

fn data_point_flags(s: &str) -> Option<i32> {
    DataPointFlags::from_str_name(s).map(i32::from)
}

// ---------------------------------------------------------------------------
// Common

const ANY_VALUE_MEMBERS: &str = "stringValue, boolValue, intValue, doubleValue, arrayValue, \
                                 kvlistValue, bytesValue, stringValueStrindex";

/// `depth` is 1 for a top-level value (an attribute's value, a log body) and
/// grows by one for each array or map it sits in.
fn any_value(o: &Obj, p: &Path<'_>, depth: usize) -> Result<AnyValue, JsonError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(p.error(format!("value nested deeper than {MAX_VALUE_DEPTH} levels")));
    }
    let mut value = None;
    fields(o, p, |name, v, fp| {
        let parsed = match name {
            "stringValue" => any_value::Value::StringValue(string(v, fp)?),
            "boolValue" => any_value::Value::BoolValue(boolean(v, fp)?),
            "intValue" => any_value::Value::IntValue(int64(v, fp)?),
            "doubleValue" => any_value::Value::DoubleValue(double(v, fp)?),
            "arrayValue" => any_value::Value::ArrayValue(array_value(object(v, fp)?, fp, depth)?),
            "kvlistValue" => {
                any_value::Value::KvlistValue(kvlist_value(object(v, fp)?, fp, depth)?)
            }
            "bytesValue" => any_value::Value::BytesValue(base64_bytes(v, fp)?),
            "stringValueStrindex" => any_value::Value::StringValueStrindex(int32(v, fp)?),
            _ => return Ok(()),
        };
        set_oneof(&mut value, parsed, p, ANY_VALUE_MEMBERS)
    })?;
    Ok(AnyValue { value })
}

fn array_value(o: &Obj, p: &Path<'_>, depth: usize) -> Result<ArrayValue, JsonError> {
    let mut out = ArrayValue::default();
    fields(o, p, |name, v, p| {
        if name == "values" {
            out.values = repeated(v, p, |item, p| any_value(object(item, p)?, p, depth + 1))?;
        }
        Ok(())
    })?;
    Ok(out)
}

fn kvlist_value(o: &Obj, p: &Path<'_>, depth: usize) -> Result<KeyValueList, JsonError> {
    let mut out = KeyValueList::default();
    fields(o, p, |name, v, p| {
        if name == "values" {
            out.values = repeated(v, p, |item, p| key_value(object(item, p)?, p, depth + 1))?;
        }
        Ok(())
    })?;
    Ok(out)
}

fn key_value(o: &Obj, p: &Path<'_>, depth: usize) -> Result<KeyValue, JsonError> {
    let mut kv = KeyValue::default();
    fields(o, p, |name, v, p| {
        match name {
            "key" => kv.key = string(v, p)?,
            "value" => kv.value = Some(any_value(object(v, p)?, p, depth)?),
            "keyStrindex" => kv.key_strindex = int32(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(kv)
}

fn attributes(v: &Value, p: &Path<'_>) -> Result<Vec<KeyValue>, JsonError> {
    repeated(v, p, |item, p| key_value(object(item, p)?, p, 1))
}

fn strings(v: &Value, p: &Path<'_>) -> Result<Vec<String>, JsonError> {
    repeated(v, p, string)
}

fn resource(o: &Obj, p: &Path<'_>) -> Result<Resource, JsonError> {
    let mut r = Resource::default();
    fields(o, p, |name, v, p| {
        match name {
            "attributes" => r.attributes = attributes(v, p)?,
            "droppedAttributesCount" => r.dropped_attributes_count = uint32(v, p)?,
            "entityRefs" => r.entity_refs = messages(v, p, entity_ref)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

fn entity_ref(o: &Obj, p: &Path<'_>) -> Result<EntityRef, JsonError> {
    let mut e = EntityRef::default();
    fields(o, p, |name, v, p| {
        match name {
            "schemaUrl" => e.schema_url = string(v, p)?,
            "type" => e.r#type = string(v, p)?,
            "idKeys" => e.id_keys = strings(v, p)?,
            "descriptionKeys" => e.description_keys = strings(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

fn scope(o: &Obj, p: &Path<'_>) -> Result<InstrumentationScope, JsonError> {
    let mut s = InstrumentationScope::default();
    fields(o, p, |name, v, p| {
        match name {
            "name" => s.name = string(v, p)?,
            "version" => s.version = string(v, p)?,
            "attributes" => s.attributes = attributes(v, p)?,
            "droppedAttributesCount" => s.dropped_attributes_count = uint32(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

// ---------------------------------------------------------------------------
// Traces

fn resource_spans(o: &Obj, p: &Path<'_>) -> Result<ResourceSpans, JsonError> {
    let mut rs = ResourceSpans::default();
    fields(o, p, |name, v, p| {
        match name {
            "resource" => rs.resource = Some(message(v, p, resource)?),
            "scopeSpans" => rs.scope_spans = messages(v, p, scope_spans)?,
            "schemaUrl" => rs.schema_url = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(rs)
}

fn scope_spans(o: &Obj, p: &Path<'_>) -> Result<ScopeSpans, JsonError> {
    let mut ss = ScopeSpans::default();
    fields(o, p, |name, v, p| {
        match name {
            "scope" => ss.scope = Some(message(v, p, scope)?),
            "spans" => ss.spans = messages(v, p, span)?,
            "schemaUrl" => ss.schema_url = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(ss)
}

fn span(o: &Obj, p: &Path<'_>) -> Result<Span, JsonError> {
    let mut s = Span::default();
    fields(o, p, |name, v, p| {
        match name {
            "traceId" => s.trace_id = id(v, p)?,
            "spanId" => s.span_id = id(v, p)?,
            "traceState" => s.trace_state = string(v, p)?,
            "parentSpanId" => s.parent_span_id = id(v, p)?,
            "flags" => s.flags = flags(v, p, span_flags)?,
            "name" => s.name = string(v, p)?,
            "kind" => s.kind = enumeration(v, p, span_kind)?,
            "startTimeUnixNano" => s.start_time_unix_nano = uint64(v, p)?,
            "endTimeUnixNano" => s.end_time_unix_nano = uint64(v, p)?,
            "attributes" => s.attributes = attributes(v, p)?,
            "droppedAttributesCount" => s.dropped_attributes_count = uint32(v, p)?,
            "events" => s.events = messages(v, p, event)?,
            "droppedEventsCount" => s.dropped_events_count = uint32(v, p)?,
            "links" => s.links = messages(v, p, link)?,
            "droppedLinksCount" => s.dropped_links_count = uint32(v, p)?,
            "status" => s.status = Some(message(v, p, status)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

fn event(o: &Obj, p: &Path<'_>) -> Result<Event, JsonError> {
    let mut e = Event::default();
    fields(o, p, |name, v, p| {
        match name {
            "timeUnixNano" => e.time_unix_nano = uint64(v, p)?,
            "name" => e.name = string(v, p)?,
            "attributes" => e.attributes = attributes(v, p)?,
            "droppedAttributesCount" => e.dropped_attributes_count = uint32(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

fn link(o: &Obj, p: &Path<'_>) -> Result<Link, JsonError> {
    let mut l = Link::default();
    fields(o, p, |name, v, p| {
        match name {
            "traceId" => l.trace_id = id(v, p)?,
            "spanId" => l.span_id = id(v, p)?,
            "traceState" => l.trace_state = string(v, p)?,
            "attributes" => l.attributes = attributes(v, p)?,
            "droppedAttributesCount" => l.dropped_attributes_count = uint32(v, p)?,
            "flags" => l.flags = flags(v, p, span_flags)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(l)
}

fn status(o: &Obj, p: &Path<'_>) -> Result<Status, JsonError> {
    let mut s = Status::default();
    fields(o, p, |name, v, p| {
        match name {
            "message" => s.message = string(v, p)?,
            "code" => s.code = enumeration(v, p, status_code)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

// ---------------------------------------------------------------------------
// Logs

fn resource_logs(o: &Obj, p: &Path<'_>) -> Result<ResourceLogs, JsonError> {
    let mut rl = ResourceLogs::default();
    fields(o, p, |name, v, p| {
        match name {
            "resource" => rl.resource = Some(message(v, p, resource)?),
            "scopeLogs" => rl.scope_logs = messages(v, p, scope_logs)?,
            "schemaUrl" => rl.schema_url = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(rl)
}

fn scope_logs(o: &Obj, p: &Path<'_>) -> Result<ScopeLogs, JsonError> {
    let mut sl = ScopeLogs::default();
    fields(o, p, |name, v, p| {
        match name {
            "scope" => sl.scope = Some(message(v, p, scope)?),
            "logRecords" => sl.log_records = messages(v, p, log_record)?,
            "schemaUrl" => sl.schema_url = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(sl)
}

fn log_record(o: &Obj, p: &Path<'_>) -> Result<LogRecord, JsonError> {
    let mut r = LogRecord::default();
    fields(o, p, |name, v, p| {
        match name {
            "timeUnixNano" => r.time_unix_nano = uint64(v, p)?,
            "observedTimeUnixNano" => r.observed_time_unix_nano = uint64(v, p)?,
            "severityNumber" => r.severity_number = enumeration(v, p, severity_number)?,
            "severityText" => r.severity_text = string(v, p)?,
            "body" => r.body = Some(any_value(object(v, p)?, p, 1)?),
            "attributes" => r.attributes = attributes(v, p)?,
            "droppedAttributesCount" => r.dropped_attributes_count = uint32(v, p)?,
            "flags" => r.flags = flags(v, p, log_record_flags)?,
            "traceId" => r.trace_id = id(v, p)?,
            "spanId" => r.span_id = id(v, p)?,
            "eventName" => r.event_name = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

// ---------------------------------------------------------------------------
// Metrics

fn resource_metrics(o: &Obj, p: &Path<'_>) -> Result<ResourceMetrics, JsonError> {
    let mut rm = ResourceMetrics::default();
    fields(o, p, |name, v, p| {
        match name {
            "resource" => rm.resource = Some(message(v, p, resource)?),
            "scopeMetrics" => rm.scope_metrics = messages(v, p, scope_metrics)?,
            "schemaUrl" => rm.schema_url = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(rm)
}

fn scope_metrics(o: &Obj, p: &Path<'_>) -> Result<ScopeMetrics, JsonError> {
    let mut sm = ScopeMetrics::default();
    fields(o, p, |name, v, p| {
        match name {
            "scope" => sm.scope = Some(message(v, p, scope)?),
            "metrics" => sm.metrics = messages(v, p, metric)?,
            "schemaUrl" => sm.schema_url = string(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(sm)
}

const METRIC_DATA_MEMBERS: &str = "gauge, sum, histogram, exponentialHistogram, summary";

fn metric(o: &Obj, p: &Path<'_>) -> Result<Metric, JsonError> {
    let mut m = Metric::default();
    fields(o, p, |name, v, fp| {
        let data = match name {
            "name" => {
                m.name = string(v, fp)?;
                return Ok(());
            }
            "description" => {
                m.description = string(v, fp)?;
                return Ok(());
            }
            "unit" => {
                m.unit = string(v, fp)?;
                return Ok(());
            }
            "metadata" => {
                m.metadata = attributes(v, fp)?;
                return Ok(());
            }
            "gauge" => metric::Data::Gauge(message(v, fp, gauge)?),
            "sum" => metric::Data::Sum(message(v, fp, sum)?),
            "histogram" => metric::Data::Histogram(message(v, fp, histogram)?),
            "exponentialHistogram" => {
                metric::Data::ExponentialHistogram(message(v, fp, exponential_histogram)?)
            }
            "summary" => metric::Data::Summary(message(v, fp, summary)?),
            _ => return Ok(()),
        };
        set_oneof(&mut m.data, data, p, METRIC_DATA_MEMBERS)
    })?;
    Ok(m)
}

fn gauge(o: &Obj, p: &Path<'_>) -> Result<Gauge, JsonError> {
    let mut g = Gauge::default();
    fields(o, p, |name, v, p| {
        if name == "dataPoints" {
            g.data_points = messages(v, p, number_data_point)?;
        }
        Ok(())
    })?;
    Ok(g)
}

fn sum(o: &Obj, p: &Path<'_>) -> Result<Sum, JsonError> {
    let mut s = Sum::default();
    fields(o, p, |name, v, p| {
        match name {
            "dataPoints" => s.data_points = messages(v, p, number_data_point)?,
            "aggregationTemporality" => {
                s.aggregation_temporality = enumeration(v, p, aggregation_temporality)?;
            }
            "isMonotonic" => s.is_monotonic = boolean(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

fn histogram(o: &Obj, p: &Path<'_>) -> Result<Histogram, JsonError> {
    let mut h = Histogram::default();
    fields(o, p, |name, v, p| {
        match name {
            "dataPoints" => h.data_points = messages(v, p, histogram_data_point)?,
            "aggregationTemporality" => {
                h.aggregation_temporality = enumeration(v, p, aggregation_temporality)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(h)
}

fn exponential_histogram(o: &Obj, p: &Path<'_>) -> Result<ExponentialHistogram, JsonError> {
    let mut h = ExponentialHistogram::default();
    fields(o, p, |name, v, p| {
        match name {
            "dataPoints" => h.data_points = messages(v, p, exponential_histogram_data_point)?,
            "aggregationTemporality" => {
                h.aggregation_temporality = enumeration(v, p, aggregation_temporality)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(h)
}

fn summary(o: &Obj, p: &Path<'_>) -> Result<Summary, JsonError> {
    let mut s = Summary::default();
    fields(o, p, |name, v, p| {
        if name == "dataPoints" {
            s.data_points = messages(v, p, summary_data_point)?;
        }
        Ok(())
    })?;
    Ok(s)
}

const NUMBER_MEMBERS: &str = "asDouble, asInt";

fn number_data_point(o: &Obj, p: &Path<'_>) -> Result<NumberDataPoint, JsonError> {
    let mut d = NumberDataPoint::default();
    fields(o, p, |name, v, fp| {
        match name {
            "attributes" => d.attributes = attributes(v, fp)?,
            "startTimeUnixNano" => d.start_time_unix_nano = uint64(v, fp)?,
            "timeUnixNano" => d.time_unix_nano = uint64(v, fp)?,
            "asDouble" => {
                let value = number_data_point::Value::AsDouble(double(v, fp)?);
                set_oneof(&mut d.value, value, p, NUMBER_MEMBERS)?;
            }
            "asInt" => {
                let value = number_data_point::Value::AsInt(int64(v, fp)?);
                set_oneof(&mut d.value, value, p, NUMBER_MEMBERS)?;
            }
            "exemplars" => d.exemplars = messages(v, fp, exemplar)?,
            "flags" => d.flags = flags(v, fp, data_point_flags)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(d)
}

fn histogram_data_point(o: &Obj, p: &Path<'_>) -> Result<HistogramDataPoint, JsonError> {
    let mut d = HistogramDataPoint::default();
    fields(o, p, |name, v, p| {
        match name {
            "attributes" => d.attributes = attributes(v, p)?,
            "startTimeUnixNano" => d.start_time_unix_nano = uint64(v, p)?,
            "timeUnixNano" => d.time_unix_nano = uint64(v, p)?,
            "count" => d.count = uint64(v, p)?,
            "sum" => d.sum = Some(double(v, p)?),
            "bucketCounts" => d.bucket_counts = repeated(v, p, uint64)?,
            "explicitBounds" => d.explicit_bounds = repeated(v, p, double)?,
            "exemplars" => d.exemplars = messages(v, p, exemplar)?,
            "flags" => d.flags = flags(v, p, data_point_flags)?,
            "min" => d.min = Some(double(v, p)?),
            "max" => d.max = Some(double(v, p)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(d)
}

fn exponential_histogram_data_point(
    o: &Obj,
    p: &Path<'_>,
) -> Result<ExponentialHistogramDataPoint, JsonError> {
    let mut d = ExponentialHistogramDataPoint::default();
    fields(o, p, |name, v, p| {
        match name {
            "attributes" => d.attributes = attributes(v, p)?,
            "startTimeUnixNano" => d.start_time_unix_nano = uint64(v, p)?,
            "timeUnixNano" => d.time_unix_nano = uint64(v, p)?,
            "count" => d.count = uint64(v, p)?,
            "sum" => d.sum = Some(double(v, p)?),
            "scale" => d.scale = int32(v, p)?,
            "zeroCount" => d.zero_count = uint64(v, p)?,
            "positive" => d.positive = Some(message(v, p, buckets)?),
            "negative" => d.negative = Some(message(v, p, buckets)?),
            "flags" => d.flags = flags(v, p, data_point_flags)?,
            "exemplars" => d.exemplars = messages(v, p, exemplar)?,
            "min" => d.min = Some(double(v, p)?),
            "max" => d.max = Some(double(v, p)?),
            "zeroThreshold" => d.zero_threshold = double(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(d)
}

fn buckets(o: &Obj, p: &Path<'_>) -> Result<Buckets, JsonError> {
    let mut b = Buckets::default();
    fields(o, p, |name, v, p| {
        match name {
            "offset" => b.offset = int32(v, p)?,
            "bucketCounts" => b.bucket_counts = repeated(v, p, uint64)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(b)
}

fn summary_data_point(o: &Obj, p: &Path<'_>) -> Result<SummaryDataPoint, JsonError> {
    let mut d = SummaryDataPoint::default();
    fields(o, p, |name, v, p| {
        match name {
            "attributes" => d.attributes = attributes(v, p)?,
            "startTimeUnixNano" => d.start_time_unix_nano = uint64(v, p)?,
            "timeUnixNano" => d.time_unix_nano = uint64(v, p)?,
            "count" => d.count = uint64(v, p)?,
            "sum" => d.sum = double(v, p)?,
            "quantileValues" => d.quantile_values = messages(v, p, value_at_quantile)?,
            "flags" => d.flags = flags(v, p, data_point_flags)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(d)
}

fn value_at_quantile(o: &Obj, p: &Path<'_>) -> Result<ValueAtQuantile, JsonError> {
    let mut q = ValueAtQuantile::default();
    fields(o, p, |name, v, p| {
        match name {
            "quantile" => q.quantile = double(v, p)?,
            "value" => q.value = double(v, p)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(q)
}

fn exemplar(o: &Obj, p: &Path<'_>) -> Result<Exemplar, JsonError> {
    let mut e = Exemplar::default();
    fields(o, p, |name, v, fp| {
        match name {
            "filteredAttributes" => e.filtered_attributes = attributes(v, fp)?,
            "timeUnixNano" => e.time_unix_nano = uint64(v, fp)?,
            "asDouble" => {
                let value = exemplar::Value::AsDouble(double(v, fp)?);
                set_oneof(&mut e.value, value, p, NUMBER_MEMBERS)?;
            }
            "asInt" => {
                let value = exemplar::Value::AsInt(int64(v, fp)?);
                set_oneof(&mut e.value, value, p, NUMBER_MEMBERS)?;
            }
            "spanId" => e.span_id = id(v, fp)?,
            "traceId" => e.trace_id = id(v, fp)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use serde_json::json;

    /// Runs `decode` over a table of inputs; an expected error is compared by
    /// its whole message so that paths and wording are pinned down too.
    fn check<T: PartialEq + fmt::Debug>(
        decode: impl Fn(&str) -> Result<T, JsonError>,
        cases: &[(&str, Result<T, &str>)],
    ) {
        for (input, want) in cases {
            match (decode(input), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "input: {input}"),
                (Err(got), Err(want)) => assert_eq!(got.0, *want, "input: {input}"),
                (got, want) => panic!("input: {input}\n got: {got:?}\nwant: {want:?}"),
            }
        }
    }

    fn one_span(json: &str) -> Result<Span, JsonError> {
        let body = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{json}]}}]}}]}}"#);
        let mut req = decode_traces(body.as_bytes())?;
        Ok(req
            .resource_spans
            .remove(0)
            .scope_spans
            .remove(0)
            .spans
            .remove(0))
    }

    fn one_log(json: &str) -> Result<LogRecord, JsonError> {
        let body = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{json}]}}]}}]}}"#);
        let mut req = decode_logs(body.as_bytes())?;
        Ok(req
            .resource_logs
            .remove(0)
            .scope_logs
            .remove(0)
            .log_records
            .remove(0))
    }

    /// An `AnyValue`, carried as a log body.
    fn body(json: &str) -> Result<AnyValue, JsonError> {
        Ok(one_log(&format!(r#"{{"body":{json}}}"#))?.body.unwrap())
    }

    fn one_metric(json: &str) -> Result<Metric, JsonError> {
        let body =
            format!(r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{json}]}}]}}]}}"#);
        let mut req = decode_metrics(body.as_bytes())?;
        Ok(req
            .resource_metrics
            .remove(0)
            .scope_metrics
            .remove(0)
            .metrics
            .remove(0))
    }

    /// A `NumberDataPoint`, carried in a gauge.
    fn gauge_point(json: &str) -> Result<NumberDataPoint, JsonError> {
        match one_metric(&format!(r#"{{"gauge":{{"dataPoints":[{json}]}}}}"#))?.data {
            Some(metric::Data::Gauge(mut g)) => Ok(g.data_points.remove(0)),
            other => panic!("not a gauge: {other:?}"),
        }
    }

    fn kv(key: &str, value: V) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn s(v: &str) -> V {
        V::StringValue(v.into())
    }

    fn any(v: V) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    const TRACE_ID: [u8; 16] = [
        0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6,
        0x0c,
    ];
    const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
    const PARENT_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73];

    fn example_resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv("service.name", s("my.service"))],
            ..Default::default()
        })
    }

    fn example_scope() -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "my.library".into(),
            version: "1.0.0".into(),
            attributes: vec![kv("my.scope.attribute", s("some scope attribute"))],
            ..Default::default()
        })
    }

    // opentelemetry-proto examples/trace.json
    const TRACE_EXAMPLE: &str = r#"{
      "resourceSpans": [
        {
          "resource": {
            "attributes": [
              { "key": "service.name", "value": { "stringValue": "my.service" } }
            ]
          },
          "scopeSpans": [
            {
              "scope": {
                "name": "my.library",
                "version": "1.0.0",
                "attributes": [
                  { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                ]
              },
              "spans": [
                {
                  "traceId": "5B8EFFF798038103D269B633813FC60C",
                  "spanId": "EEE19B7EC3C1B174",
                  "parentSpanId": "EEE19B7EC3C1B173",
                  "name": "I'm a server span",
                  "startTimeUnixNano": "1544712660000000000",
                  "endTimeUnixNano": "1544712661000000000",
                  "kind": 2,
                  "attributes": [
                    { "key": "my.span.attr", "value": { "stringValue": "some value" } }
                  ]
                }
              ]
            }
          ]
        }
      ]
    }"#;

    // opentelemetry-proto examples/logs.json
    const LOGS_EXAMPLE: &str = r#"{
      "resourceLogs": [
        {
          "resource": {
            "attributes": [
              { "key": "service.name", "value": { "stringValue": "my.service" } }
            ]
          },
          "scopeLogs": [
            {
              "scope": {
                "name": "my.library",
                "version": "1.0.0",
                "attributes": [
                  { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                ]
              },
              "logRecords": [
                {
                  "timeUnixNano": "1544712660300000000",
                  "observedTimeUnixNano": "1544712660300000000",
                  "severityNumber": 10,
                  "severityText": "Information",
                  "traceId": "5B8EFFF798038103D269B633813FC60C",
                  "spanId": "EEE19B7EC3C1B174",
                  "body": { "stringValue": "Example log record" },
                  "attributes": [
                    { "key": "string.attribute", "value": { "stringValue": "some string" } },
                    { "key": "boolean.attribute", "value": { "boolValue": true } },
                    { "key": "int.attribute", "value": { "intValue": "10" } },
                    { "key": "double.attribute", "value": { "doubleValue": 637.704 } },
                    {
                      "key": "array.attribute",
                      "value": {
                        "arrayValue": {
                          "values": [{ "stringValue": "many" }, { "stringValue": "values" }]
                        }
                      }
                    },
                    {
                      "key": "map.attribute",
                      "value": {
                        "kvlistValue": {
                          "values": [
                            { "key": "some.map.key", "value": { "stringValue": "some value" } }
                          ]
                        }
                      }
                    }
                  ]
                }
              ]
            }
          ]
        }
      ]
    }"#;

    // opentelemetry-proto examples/metrics.json
    const METRICS_EXAMPLE: &str = r#"{
      "resourceMetrics": [
        {
          "resource": {
            "attributes": [
              { "key": "service.name", "value": { "stringValue": "my.service" } }
            ]
          },
          "scopeMetrics": [
            {
              "scope": {
                "name": "my.library",
                "version": "1.0.0",
                "attributes": [
                  { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                ]
              },
              "metrics": [
                {
                  "name": "my.counter",
                  "unit": "1",
                  "description": "I am a Counter",
                  "sum": {
                    "aggregationTemporality": 1,
                    "isMonotonic": true,
                    "dataPoints": [
                      {
                        "asDouble": 5,
                        "startTimeUnixNano": "1544712660300000000",
                        "timeUnixNano": "1544712660300000000",
                        "attributes": [
                          { "key": "my.counter.attr", "value": { "stringValue": "some value" } }
                        ]
                      }
                    ]
                  }
                },
                {
                  "name": "my.gauge",
                  "unit": "1",
                  "description": "I am a Gauge",
                  "gauge": {
                    "dataPoints": [
                      {
                        "asDouble": 10,
                        "timeUnixNano": "1544712660300000000",
                        "attributes": [
                          { "key": "my.gauge.attr", "value": { "stringValue": "some value" } }
                        ]
                      }
                    ]
                  }
                },
                {
                  "name": "my.histogram",
                  "unit": "1",
                  "description": "I am a Histogram",
                  "histogram": {
                    "aggregationTemporality": 1,
                    "dataPoints": [
                      {
                        "startTimeUnixNano": "1544712660300000000",
                        "timeUnixNano": "1544712660300000000",
                        "count": 2,
                        "sum": 2,
                        "bucketCounts": [1, 1],
                        "explicitBounds": [1],
                        "min": 0,
                        "max": 2,
                        "attributes": [
                          { "key": "my.histogram.attr", "value": { "stringValue": "some value" } }
                        ]
                      }
                    ]
                  }
                },
                {
                  "name": "my.exponential.histogram",
                  "unit": "1",
                  "description": "I am an Exponential Histogram",
                  "exponentialHistogram": {
                    "aggregationTemporality": 1,
                    "dataPoints": [
                      {
                        "startTimeUnixNano": "1544712660300000000",
                        "timeUnixNano": "1544712660300000000",
                        "count": 3,
                        "sum": 10,
                        "scale": 0,
                        "zeroCount": 1,
                        "positive": { "offset": 1, "bucketCounts": [0, 2] },
                        "min": 0,
                        "max": 5,
                        "zeroThreshold": 0,
                        "attributes": [
                          {
                            "key": "my.exponential.histogram.attr",
                            "value": { "stringValue": "some value" }
                          }
                        ]
                      }
                    ]
                  }
                }
              ]
            }
          ]
        }
      ]
    }"#;

    #[test]
    fn trace_example() {
        let req = decode_traces(TRACE_EXAMPLE.as_bytes()).unwrap();
        let want = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: example_resource(),
                scope_spans: vec![ScopeSpans {
                    scope: example_scope(),
                    spans: vec![Span {
                        trace_id: TRACE_ID.to_vec(),
                        span_id: SPAN_ID.to_vec(),
                        parent_span_id: PARENT_ID.to_vec(),
                        name: "I'm a server span".into(),
                        start_time_unix_nano: 1_544_712_660_000_000_000,
                        end_time_unix_nano: 1_544_712_661_000_000_000,
                        kind: SpanKind::Server.into(),
                        attributes: vec![kv("my.span.attr", s("some value"))],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(req, want);
    }

    #[test]
    fn logs_example() {
        let req = decode_logs(LOGS_EXAMPLE.as_bytes()).unwrap();
        let want = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: example_resource(),
                scope_logs: vec![ScopeLogs {
                    scope: example_scope(),
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_544_712_660_300_000_000,
                        observed_time_unix_nano: 1_544_712_660_300_000_000,
                        severity_number: SeverityNumber::Info2.into(),
                        severity_text: "Information".into(),
                        trace_id: TRACE_ID.to_vec(),
                        span_id: SPAN_ID.to_vec(),
                        body: Some(any(s("Example log record"))),
                        attributes: vec![
                            kv("string.attribute", s("some string")),
                            kv("boolean.attribute", V::BoolValue(true)),
                            kv("int.attribute", V::IntValue(10)),
                            kv("double.attribute", V::DoubleValue(637.704)),
                            kv(
                                "array.attribute",
                                V::ArrayValue(ArrayValue {
                                    values: vec![any(s("many")), any(s("values"))],
                                }),
                            ),
                            kv(
                                "map.attribute",
                                V::KvlistValue(KeyValueList {
                                    values: vec![kv("some.map.key", s("some value"))],
                                }),
                            ),
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(req, want);
    }

    #[test]
    fn metrics_example() {
        const T: u64 = 1_544_712_660_300_000_000;
        let attrs = |key: &str| vec![kv(key, s("some value"))];
        let req = decode_metrics(METRICS_EXAMPLE.as_bytes()).unwrap();
        let want = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: example_resource(),
                scope_metrics: vec![ScopeMetrics {
                    scope: example_scope(),
                    metrics: vec![
                        Metric {
                            name: "my.counter".into(),
                            unit: "1".into(),
                            description: "I am a Counter".into(),
                            data: Some(metric::Data::Sum(Sum {
                                aggregation_temporality: AggregationTemporality::Delta.into(),
                                is_monotonic: true,
                                data_points: vec![NumberDataPoint {
                                    value: Some(number_data_point::Value::AsDouble(5.0)),
                                    start_time_unix_nano: T,
                                    time_unix_nano: T,
                                    attributes: attrs("my.counter.attr"),
                                    ..Default::default()
                                }],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "my.gauge".into(),
                            unit: "1".into(),
                            description: "I am a Gauge".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![NumberDataPoint {
                                    value: Some(number_data_point::Value::AsDouble(10.0)),
                                    time_unix_nano: T,
                                    attributes: attrs("my.gauge.attr"),
                                    ..Default::default()
                                }],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "my.histogram".into(),
                            unit: "1".into(),
                            description: "I am a Histogram".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                aggregation_temporality: AggregationTemporality::Delta.into(),
                                data_points: vec![HistogramDataPoint {
                                    start_time_unix_nano: T,
                                    time_unix_nano: T,
                                    count: 2,
                                    sum: Some(2.0),
                                    bucket_counts: vec![1, 1],
                                    explicit_bounds: vec![1.0],
                                    min: Some(0.0),
                                    max: Some(2.0),
                                    attributes: attrs("my.histogram.attr"),
                                    ..Default::default()
                                }],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "my.exponential.histogram".into(),
                            unit: "1".into(),
                            description: "I am an Exponential Histogram".into(),
                            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                                aggregation_temporality: AggregationTemporality::Delta.into(),
                                data_points: vec![ExponentialHistogramDataPoint {
                                    start_time_unix_nano: T,
                                    time_unix_nano: T,
                                    count: 3,
                                    sum: Some(10.0),
                                    scale: 0,
                                    zero_count: 1,
                                    positive: Some(Buckets {
                                        offset: 1,
                                        bucket_counts: vec![0, 2],
                                    }),
                                    min: Some(0.0),
                                    max: Some(5.0),
                                    zero_threshold: 0.0,
                                    attributes: attrs("my.exponential.histogram.attr"),
                                    ..Default::default()
                                }],
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(req, want);
    }

    #[test]
    fn top_level() {
        let traces = |s: &str| decode_traces(s.as_bytes());
        check(
            traces,
            &[
                ("{}", Ok(ExportTraceServiceRequest::default())),
                (r#"{"resourceSpans":null}"#, Ok(Default::default())),
                (r#"{"resourceSpans":[]}"#, Ok(Default::default())),
                (r#"{"somethingElse":[1,2]}"#, Ok(Default::default())),
                (
                    r#"{"resource_spans":[{"schema_url":"u"}]}"#,
                    Ok(ExportTraceServiceRequest {
                        resource_spans: vec![ResourceSpans {
                            schema_url: "u".into(),
                            ..Default::default()
                        }],
                    }),
                ),
                (
                    "[]",
                    Err("expected a json object at the top level, got an array"),
                ),
                (
                    "5",
                    Err("expected a json object at the top level, got a number"),
                ),
                (
                    "null",
                    Err("expected a json object at the top level, got null"),
                ),
                (
                    "",
                    Err("invalid json: unexpected end of input at line 1 column 0"),
                ),
                (
                    r#"{"resourceSpans":["#,
                    Err("invalid json: unexpected end of input at line 1 column 18"),
                ),
                (
                    "{} x",
                    Err("invalid json: trailing characters at line 1 column 4"),
                ),
                (
                    r#"{"resourceSpans":5}"#,
                    Err("resourceSpans: expected an array, got a number"),
                ),
                (
                    r#"{"resourceSpans":[5]}"#,
                    Err("resourceSpans[0]: expected an object, got a number"),
                ),
                (
                    r#"{"resourceSpans":[null]}"#,
                    Err("resourceSpans[0]: expected an object, got null"),
                ),
                (
                    r#"{"resourceSpans":[{}, {"scopeSpans":{}}]}"#,
                    Err("resourceSpans[1].scopeSpans: expected an array, got an object"),
                ),
                (
                    r#"{"resourceSpans":[{"resource":[]}]}"#,
                    Err("resourceSpans[0].resource: expected an object, got an array"),
                ),
            ],
        );

        let err = decode_logs(b"{\"resourceLogs\":[{\"schemaUrl\":\"\xff\"}]}").unwrap_err();
        assert!(err.0.starts_with("invalid json: invalid unicode"), "{err}");
        let err = decode_metrics(b"{\"resourceMetrics\":{}}").unwrap_err();
        assert_eq!(err.0, "resourceMetrics: expected an array, got an object");
    }

    #[test]
    fn spans() {
        let e = "resourceSpans[0].scopeSpans[0].spans[0]";
        let err = |suffix: &str| format!("{e}.{suffix}");
        let errors = [
            err("traceId: invalid hex (odd length)"),
            err("spanId: invalid hex (unexpected 'g' at offset 1)"),
            err("traceId: expected a hex string, got a number"),
            err("name: expected a string, got a number"),
            err("kind: unknown enum value \"SPAN_KIND_BOGUS\""),
            err("kind: 4294967296 is out of range for int32"),
            err("startTimeUnixNano: -1 is out of range for uint64"),
            err("startTimeUnixNano: expected an integer, got 1.5"),
            err("endTimeUnixNano: invalid integer \"1.5\""),
            err("endTimeUnixNano: invalid integer \"\""),
            err("startTimeUnixNano: 18446744073709551616 is out of range for uint64"),
            err("droppedAttributesCount: 4294967296 is out of range for uint32"),
            err("attributes: expected an array, got an object"),
            err("attributes[0].key: expected a string, got a boolean"),
            err("events[1]: expected an object, got a number"),
            err("links[0].spanId: invalid hex (odd length)"),
            err("status.code: unknown enum value \"STATUS_CODE_NOPE\""),
            err("status: expected an object, got a string"),
        ];
        check(
            one_span,
            &[
                ("{}", Ok(Span::default())),
                (
                    r#"{"traceId":null,"spanId":null,"name":null,"kind":null,
                        "startTimeUnixNano":null,"attributes":null,"events":null,
                        "status":null,"flags":null}"#,
                    Ok(Span::default()),
                ),
                (
                    r#"{"traceId":"5b8efff798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
                        "parentSpanId":""}"#,
                    Ok(Span {
                        trace_id: TRACE_ID.to_vec(),
                        span_id: SPAN_ID.to_vec(),
                        ..Default::default()
                    }),
                ),
                // Lengths are left to the caller.
                (
                    r#"{"traceId":"00112233445566778899","spanId":"ab"}"#,
                    Ok(Span {
                        trace_id: vec![0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99],
                        span_id: vec![0xab],
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"trace_id":"01","span_id":"02","parent_span_id":"03","trace_state":"a=b",
                        "start_time_unix_nano":"5","end_time_unix_nano":6,
                        "dropped_attributes_count":1,"dropped_events_count":"2",
                        "dropped_links_count":3}"#,
                    Ok(Span {
                        trace_id: vec![1],
                        span_id: vec![2],
                        parent_span_id: vec![3],
                        trace_state: "a=b".into(),
                        start_time_unix_nano: 5,
                        end_time_unix_nano: 6,
                        dropped_attributes_count: 1,
                        dropped_events_count: 2,
                        dropped_links_count: 3,
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"startTimeUnixNano":18446744073709551615,"endTimeUnixNano":"18446744073709551615",
                        "kind":"SPAN_KIND_CLIENT","flags":769,"name":"GET /"}"#,
                    Ok(Span {
                        start_time_unix_nano: u64::MAX,
                        end_time_unix_nano: u64::MAX,
                        kind: SpanKind::Client.into(),
                        flags: 769,
                        name: "GET /".into(),
                        ..Default::default()
                    }),
                ),
                // Integral floats are what the protobuf JSON mapping allows.
                (
                    r#"{"startTimeUnixNano":1e3,"endTimeUnixNano":2000.0,"kind":"4"}"#,
                    Ok(Span {
                        start_time_unix_nano: 1000,
                        end_time_unix_nano: 2000,
                        kind: SpanKind::Producer.into(),
                        ..Default::default()
                    }),
                ),
                // Unknown enum numbers are kept as they are.
                (
                    r#"{"kind":42,"status":{"code":7}}"#,
                    Ok(Span {
                        kind: 42,
                        status: Some(Status {
                            code: 7,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"status":{"code":"STATUS_CODE_ERROR","message":"boom"}}"#,
                    Ok(Span {
                        status: Some(Status {
                            code: StatusCode::Error.into(),
                            message: "boom".into(),
                        }),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"status":{}}"#,
                    Ok(Span {
                        status: Some(Status::default()),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"events":[{"timeUnixNano":"7","name":"exception","droppedAttributesCount":1,
                         "attributes":[{"key":"exception.type","value":{"stringValue":"E"}}]}],
                        "links":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B173",
                         "traceState":"k=v","flags":"SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK",
                         "droppedAttributesCount":2,
                         "attributes":[{"key":"l","value":{"intValue":1}}]}]}"#,
                    Ok(Span {
                        events: vec![Event {
                            time_unix_nano: 7,
                            name: "exception".into(),
                            dropped_attributes_count: 1,
                            attributes: vec![kv("exception.type", s("E"))],
                        }],
                        links: vec![Link {
                            trace_id: TRACE_ID.to_vec(),
                            span_id: PARENT_ID.to_vec(),
                            trace_state: "k=v".into(),
                            flags: 256,
                            dropped_attributes_count: 2,
                            attributes: vec![kv("l", V::IntValue(1))],
                        }],
                        ..Default::default()
                    }),
                ),
                // A missing or null attribute value is kept as an absent value.
                (
                    r#"{"attributes":[{"key":"a","value":null},{"key":"b"},{"value":{"boolValue":false}}]}"#,
                    Ok(Span {
                        attributes: vec![
                            KeyValue {
                                key: "a".into(),
                                ..Default::default()
                            },
                            KeyValue {
                                key: "b".into(),
                                ..Default::default()
                            },
                            kv("", V::BoolValue(false)),
                        ],
                        ..Default::default()
                    }),
                ),
                (r#"{"traceId":"abc"}"#, Err(&errors[0])),
                (r#"{"spanId":"0g"}"#, Err(&errors[1])),
                (r#"{"traceId":5}"#, Err(&errors[2])),
                (r#"{"name":12}"#, Err(&errors[3])),
                (r#"{"kind":"SPAN_KIND_BOGUS"}"#, Err(&errors[4])),
                (r#"{"kind":4294967296}"#, Err(&errors[5])),
                (r#"{"startTimeUnixNano":-1}"#, Err(&errors[6])),
                (r#"{"startTimeUnixNano":1.5}"#, Err(&errors[7])),
                (r#"{"endTimeUnixNano":"1.5"}"#, Err(&errors[8])),
                (r#"{"endTimeUnixNano":""}"#, Err(&errors[9])),
                (
                    r#"{"startTimeUnixNano":"18446744073709551616"}"#,
                    Err(&errors[10]),
                ),
                (r#"{"droppedAttributesCount":4294967296}"#, Err(&errors[11])),
                (r#"{"attributes":{}}"#, Err(&errors[12])),
                (r#"{"attributes":[{"key":true}]}"#, Err(&errors[13])),
                (r#"{"events":[{},3]}"#, Err(&errors[14])),
                (r#"{"links":[{"spanId":"1"}]}"#, Err(&errors[15])),
                (
                    r#"{"status":{"code":"STATUS_CODE_NOPE"}}"#,
                    Err(&errors[16]),
                ),
                (r#"{"status":"ok"}"#, Err(&errors[17])),
            ],
        );
    }

    #[test]
    fn any_values() {
        let e = "resourceLogs[0].scopeLogs[0].logRecords[0].body";
        let errors = [
            format!("{e}.intValue: expected an integer, got 1.5"),
            format!("{e}.intValue: 9223372036854775808 is out of range for int64"),
            format!("{e}.intValue: \"99999999999999999999999999999999999999999\" is out of range"),
            format!("{e}.boolValue: expected a boolean, got a string"),
            format!("{e}.bytesValue: invalid base64"),
            format!("{e}.arrayValue: expected an object, got an array"),
            format!("{e}.kvlistValue.values[0].key: expected a string, got a number"),
            format!("{e}.arrayValue.values[1]: expected an object, got null"),
            format!("{e}.doubleValue: invalid number \"fast\""),
            format!(
                "{e}: only one of stringValue, boolValue, intValue, doubleValue, \
                 arrayValue, kvlistValue, bytesValue, stringValueStrindex may be set"
            ),
            format!("{e}: expected an object, got a string"),
        ];
        check(
            body,
            &[
                ("{}", Ok(AnyValue { value: None })),
                (r#"{"stringValue":null}"#, Ok(AnyValue { value: None })),
                (r#"{"somethingNew":1}"#, Ok(AnyValue { value: None })),
                (r#"{"stringValue":"s"}"#, Ok(any(s("s")))),
                (r#"{"string_value":"snake"}"#, Ok(any(s("snake")))),
                (r#"{"boolValue":true}"#, Ok(any(V::BoolValue(true)))),
                (r#"{"intValue":"123"}"#, Ok(any(V::IntValue(123)))),
                (r#"{"intValue":-5}"#, Ok(any(V::IntValue(-5)))),
                (
                    r#"{"intValue":"-9223372036854775808"}"#,
                    Ok(any(V::IntValue(i64::MIN))),
                ),
                (
                    r#"{"intValue":9223372036854775807}"#,
                    Ok(any(V::IntValue(i64::MAX))),
                ),
                (r#"{"doubleValue":1.5}"#, Ok(any(V::DoubleValue(1.5)))),
                (r#"{"doubleValue":3}"#, Ok(any(V::DoubleValue(3.0)))),
                (r#"{"doubleValue":"2.5"}"#, Ok(any(V::DoubleValue(2.5)))),
                (
                    r#"{"doubleValue":"Infinity"}"#,
                    Ok(any(V::DoubleValue(f64::INFINITY))),
                ),
                (
                    r#"{"doubleValue":"-Infinity"}"#,
                    Ok(any(V::DoubleValue(f64::NEG_INFINITY))),
                ),
                (
                    r#"{"bytesValue":"aGVsbG8="}"#,
                    Ok(any(V::BytesValue(b"hello".to_vec()))),
                ),
                (
                    r#"{"bytesValue":"aGVsbG8"}"#,
                    Ok(any(V::BytesValue(b"hello".to_vec()))),
                ),
                (
                    r#"{"bytesValue":"+/8="}"#,
                    Ok(any(V::BytesValue(vec![0xfb, 0xff]))),
                ),
                (
                    r#"{"bytesValue":"-_8"}"#,
                    Ok(any(V::BytesValue(vec![0xfb, 0xff]))),
                ),
                (r#"{"bytesValue":""}"#, Ok(any(V::BytesValue(vec![])))),
                (
                    r#"{"arrayValue":{}}"#,
                    Ok(any(V::ArrayValue(ArrayValue::default()))),
                ),
                (
                    r#"{"arrayValue":{"values":null}}"#,
                    Ok(any(V::ArrayValue(ArrayValue::default()))),
                ),
                (
                    r#"{"kvlistValue":{}}"#,
                    Ok(any(V::KvlistValue(KeyValueList::default()))),
                ),
                (
                    r#"{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":1},{},
                        {"arrayValue":{"values":[{"boolValue":false}]}}]}}"#,
                    Ok(any(V::ArrayValue(ArrayValue {
                        values: vec![
                            any(s("a")),
                            any(V::IntValue(1)),
                            AnyValue { value: None },
                            any(V::ArrayValue(ArrayValue {
                                values: vec![any(V::BoolValue(false))],
                            })),
                        ],
                    }))),
                ),
                (
                    r#"{"kvlist_value":{"values":[{"key":"k","value":null},{"key":"k2"},
                        {"key":"k3","value":{"kvlistValue":{"values":[{"key":"in","value":{"doubleValue":0.5}}]}}}]}}"#,
                    Ok(any(V::KvlistValue(KeyValueList {
                        values: vec![
                            KeyValue {
                                key: "k".into(),
                                ..Default::default()
                            },
                            KeyValue {
                                key: "k2".into(),
                                ..Default::default()
                            },
                            kv(
                                "k3",
                                V::KvlistValue(KeyValueList {
                                    values: vec![kv("in", V::DoubleValue(0.5))],
                                }),
                            ),
                        ],
                    }))),
                ),
                (r#"{"intValue":1.5}"#, Err(&errors[0])),
                (r#"{"intValue":"9223372036854775808"}"#, Err(&errors[1])),
                (
                    r#"{"intValue":"99999999999999999999999999999999999999999"}"#,
                    Err(&errors[2]),
                ),
                (r#"{"boolValue":"true"}"#, Err(&errors[3])),
                (r#"{"bytesValue":"!!"}"#, Err(&errors[4])),
                (r#"{"arrayValue":[]}"#, Err(&errors[5])),
                (r#"{"kvlistValue":{"values":[{"key":5}]}}"#, Err(&errors[6])),
                (r#"{"arrayValue":{"values":[{},null]}}"#, Err(&errors[7])),
                (r#"{"doubleValue":"fast"}"#, Err(&errors[8])),
                (r#"{"stringValue":"a","intValue":1}"#, Err(&errors[9])),
                (r#""just a string""#, Err(&errors[10])),
            ],
        );

        let nan = body(r#"{"doubleValue":"NaN"}"#).unwrap();
        assert!(matches!(nan.value, Some(V::DoubleValue(d)) if d.is_nan()));
    }

    /// Wraps `leaf` in `levels` single-element arrays.
    fn nested(levels: usize, leaf: serde_json::Value) -> serde_json::Value {
        (0..levels).fold(leaf, |inner, _| json!({"arrayValue": {"values": [inner]}}))
    }

    #[test]
    fn value_depth() {
        // Built as a Value rather than parsed, since serde_json's own limit
        // of 128 would stop a parsed document first.
        let deep_ok = nested(63, json!({"intValue": 1}));
        let Value::Object(o) = &deep_ok else { panic!() };
        let mut v = any_value(o, &Path::Root, 1).unwrap();
        for _ in 0..63 {
            match v.value {
                Some(V::ArrayValue(mut a)) => v = a.values.remove(0),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(v, any(V::IntValue(1)));

        let too_deep = nested(64, json!({"intValue": 1}));
        let Value::Object(o) = &too_deep else {
            panic!()
        };
        let err = any_value(o, &Path::Root.field("body"), 1).unwrap_err();
        let want = format!(
            "body{}: value nested deeper than 64 levels",
            ".arrayValue.values[0]".repeat(64)
        );
        assert_eq!(err.0, want);

        // Nesting in maps counts the same.
        let mut kvs = json!({"stringValue": "x"});
        for _ in 0..64 {
            kvs = json!({"kvlistValue": {"values": [{"key": "k", "value": kvs}]}});
        }
        let Value::Object(o) = &kvs else { panic!() };
        let err = any_value(o, &Path::Root, 1).unwrap_err();
        assert!(
            err.0.ends_with(": value nested deeper than 64 levels"),
            "{err}"
        );

        // Through the public API a document this deep is refused by the parser,
        // without overflowing the stack.
        let doc = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}}}]}}]}}]}}"#,
            nested(100, json!({}))
        );
        let err = decode_logs(doc.as_bytes()).unwrap_err();
        assert!(
            err.0.starts_with("invalid json: recursion limit exceeded"),
            "{err}"
        );
        let err = decode_traces("[".repeat(100_000).as_bytes()).unwrap_err();
        assert!(
            err.0.starts_with("invalid json: recursion limit exceeded"),
            "{err}"
        );
    }

    #[test]
    fn logs() {
        let e = "resourceLogs[0].scopeLogs[0].logRecords[0]";
        let errors = [
            format!("{e}.severityNumber: unknown enum value \"INFO\""),
            format!("{e}.traceId: invalid hex (unexpected 'z' at offset 0)"),
            format!("{e}.observedTimeUnixNano: -5 is out of range for uint64"),
            format!("{e}.eventName: expected a string, got an array"),
            format!("{e}.flags: -1 is out of range for uint32"),
            format!("{e}.body: expected an object, got a number"),
        ];
        check(
            one_log,
            &[
                ("{}", Ok(LogRecord::default())),
                (r#"{"body":null}"#, Ok(LogRecord::default())),
                (
                    r#"{"body":{}}"#,
                    Ok(LogRecord {
                        body: Some(AnyValue { value: None }),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"timeUnixNano":1,"observedTimeUnixNano":"2","severityNumber":"SEVERITY_NUMBER_WARN",
                        "severityText":"WARN","flags":1,"traceId":"5B8EFFF798038103D269B633813FC60C",
                        "spanId":"EEE19B7EC3C1B174","eventName":"browser.page_view",
                        "droppedAttributesCount":4,"attributes":[{"key":"a","value":{"stringValue":"b"}}],
                        "body":{"kvlistValue":{"values":[{"key":"type","value":{"intValue":"0"}}]}}}"#,
                    Ok(LogRecord {
                        time_unix_nano: 1,
                        observed_time_unix_nano: 2,
                        severity_number: SeverityNumber::Warn.into(),
                        severity_text: "WARN".into(),
                        flags: 1,
                        trace_id: TRACE_ID.to_vec(),
                        span_id: SPAN_ID.to_vec(),
                        event_name: "browser.page_view".into(),
                        dropped_attributes_count: 4,
                        attributes: vec![kv("a", s("b"))],
                        body: Some(any(V::KvlistValue(KeyValueList {
                            values: vec![kv("type", V::IntValue(0))],
                        }))),
                    }),
                ),
                (
                    r#"{"severity_number":21,"severity_text":"F","observed_time_unix_nano":"3",
                        "event_name":"e","trace_id":"","span_id":"","flags":"LOG_RECORD_FLAGS_TRACE_FLAGS_MASK"}"#,
                    Ok(LogRecord {
                        severity_number: SeverityNumber::Fatal.into(),
                        severity_text: "F".into(),
                        observed_time_unix_nano: 3,
                        event_name: "e".into(),
                        flags: 255,
                        ..Default::default()
                    }),
                ),
                (r#"{"severityNumber":"INFO"}"#, Err(&errors[0])),
                (r#"{"traceId":"zz"}"#, Err(&errors[1])),
                (r#"{"observedTimeUnixNano":"-5"}"#, Err(&errors[2])),
                (r#"{"eventName":[]}"#, Err(&errors[3])),
                (r#"{"flags":-1}"#, Err(&errors[4])),
                (r#"{"body":7}"#, Err(&errors[5])),
            ],
        );
    }

    #[test]
    fn metrics() {
        let e = "resourceMetrics[0].scopeMetrics[0].metrics[0]";
        let errors = [
            format!("{e}.sum: expected an object, got a number"),
            format!(
                "{e}: only one of gauge, sum, histogram, exponentialHistogram, summary may be set"
            ),
            format!("{e}.histogram.dataPoints[0].bucketCounts[1]: -1 is out of range for uint64"),
            format!(
                "{e}.histogram.dataPoints[0].explicitBounds[0]: expected a number, got a boolean"
            ),
            format!(
                "{e}.exponentialHistogram.dataPoints[0].positive.offset: 2147483648 is out of range for int32"
            ),
            format!(
                "{e}.summary.dataPoints[0].quantileValues[0].value: expected a number, got an object"
            ),
            format!("{e}.sum.aggregationTemporality: unknown enum value \"CUMULATIVE\""),
            format!("{e}.sum.isMonotonic: expected a boolean, got a number"),
            format!("{e}.metadata[0].value: expected an object, got a string"),
        ];
        check(
            one_metric,
            &[
                ("{}", Ok(Metric::default())),
                (
                    r#"{"name":"m","description":"d","unit":"ms","sum":null,
                        "metadata":[{"key":"k","value":{"stringValue":"v"}}]}"#,
                    Ok(Metric {
                        name: "m".into(),
                        description: "d".into(),
                        unit: "ms".into(),
                        metadata: vec![kv("k", s("v"))],
                        data: None,
                    }),
                ),
                (
                    r#"{"sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE",
                        "isMonotonic":false,"dataPoints":[{"asInt":"-3"},{"asInt":4}]}}"#,
                    Ok(Metric {
                        data: Some(metric::Data::Sum(Sum {
                            aggregation_temporality: AggregationTemporality::Cumulative.into(),
                            is_monotonic: false,
                            data_points: vec![
                                NumberDataPoint {
                                    value: Some(number_data_point::Value::AsInt(-3)),
                                    ..Default::default()
                                },
                                NumberDataPoint {
                                    value: Some(number_data_point::Value::AsInt(4)),
                                    ..Default::default()
                                },
                            ],
                        })),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"histogram":{"aggregation_temporality":2,"data_points":[{"count":"3",
                        "bucket_counts":["1",2,"0"],"explicit_bounds":[0.5,"10"],"sum":null,
                        "flags":"DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK","startTimeUnixNano":"1",
                        "timeUnixNano":"2","max":"Infinity",
                        "exemplars":[{"asDouble":1.25,"timeUnixNano":"9","spanId":"EEE19B7EC3C1B174",
                          "traceId":"5b8efff798038103d269b633813fc60c",
                          "filteredAttributes":[{"key":"f","value":{"intValue":"1"}}]}]}]}}"#,
                    Ok(Metric {
                        data: Some(metric::Data::Histogram(Histogram {
                            aggregation_temporality: AggregationTemporality::Cumulative.into(),
                            data_points: vec![HistogramDataPoint {
                                count: 3,
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![0.5, 10.0],
                                sum: None,
                                flags: 1,
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                min: None,
                                max: Some(f64::INFINITY),
                                exemplars: vec![Exemplar {
                                    value: Some(exemplar::Value::AsDouble(1.25)),
                                    time_unix_nano: 9,
                                    span_id: SPAN_ID.to_vec(),
                                    trace_id: TRACE_ID.to_vec(),
                                    filtered_attributes: vec![kv("f", V::IntValue(1))],
                                }],
                                attributes: vec![],
                            }],
                        })),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"exponentialHistogram":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA",
                        "dataPoints":[{"count":"7","sum":-2.5,"scale":-3,"zeroCount":"1","zeroThreshold":"1e-9",
                        "positive":{"offset":"-2","bucketCounts":["4"]},"negative":{},"flags":1,
                        "min":-2,"max":"3","exemplars":[{"asInt":"5"}]}]}}"#,
                    Ok(Metric {
                        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                            aggregation_temporality: AggregationTemporality::Delta.into(),
                            data_points: vec![ExponentialHistogramDataPoint {
                                count: 7,
                                sum: Some(-2.5),
                                scale: -3,
                                zero_count: 1,
                                zero_threshold: 1e-9,
                                positive: Some(Buckets {
                                    offset: -2,
                                    bucket_counts: vec![4],
                                }),
                                negative: Some(Buckets::default()),
                                flags: 1,
                                min: Some(-2.0),
                                max: Some(3.0),
                                exemplars: vec![Exemplar {
                                    value: Some(exemplar::Value::AsInt(5)),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"name":"rpc.duration","summary":{"dataPoints":[{"count":"10","sum":"12.5",
                        "startTimeUnixNano":1,"timeUnixNano":2,"flags":0,
                        "attributes":[{"key":"a","value":{"boolValue":true}}],
                        "quantileValues":[{"quantile":0.5,"value":1},{"quantile":"0.99","value":"9.5"},{}]}]}}"#,
                    Ok(Metric {
                        name: "rpc.duration".into(),
                        data: Some(metric::Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint {
                                count: 10,
                                sum: 12.5,
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                flags: 0,
                                attributes: vec![kv("a", V::BoolValue(true))],
                                quantile_values: vec![
                                    ValueAtQuantile {
                                        quantile: 0.5,
                                        value: 1.0,
                                    },
                                    ValueAtQuantile {
                                        quantile: 0.99,
                                        value: 9.5,
                                    },
                                    ValueAtQuantile::default(),
                                ],
                            }],
                        })),
                        ..Default::default()
                    }),
                ),
                (r#"{"sum":5}"#, Err(&errors[0])),
                (r#"{"gauge":{},"sum":{}}"#, Err(&errors[1])),
                (
                    r#"{"histogram":{"dataPoints":[{"bucketCounts":[1,-1]}]}}"#,
                    Err(&errors[2]),
                ),
                (
                    r#"{"histogram":{"dataPoints":[{"explicitBounds":[true]}]}}"#,
                    Err(&errors[3]),
                ),
                (
                    r#"{"exponentialHistogram":{"dataPoints":[{"positive":{"offset":2147483648}}]}}"#,
                    Err(&errors[4]),
                ),
                (
                    r#"{"summary":{"dataPoints":[{"quantileValues":[{"value":{}}]}]}}"#,
                    Err(&errors[5]),
                ),
                (
                    r#"{"sum":{"aggregationTemporality":"CUMULATIVE"}}"#,
                    Err(&errors[6]),
                ),
                (r#"{"sum":{"isMonotonic":1}}"#, Err(&errors[7])),
                (r#"{"metadata":[{"key":"k","value":"v"}]}"#, Err(&errors[8])),
            ],
        );
    }

    #[test]
    fn number_data_points() {
        let e = "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0]";
        let errors = [
            format!("{e}: only one of asDouble, asInt may be set"),
            format!("{e}.asInt: expected an integer, got 2.5"),
            format!("{e}.flags: invalid integer \"DATA_POINT_FLAGS_BOGUS\""),
            format!("{e}.exemplars[0].traceId: invalid hex (odd length)"),
            format!("{e}.exemplars[0]: only one of asDouble, asInt may be set"),
        ];
        check(
            gauge_point,
            &[
                ("{}", Ok(NumberDataPoint::default())),
                (
                    r#"{"asInt":"9223372036854775807","flags":"DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK"}"#,
                    Ok(NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(i64::MAX)),
                        flags: 1,
                        ..Default::default()
                    }),
                ),
                (
                    r#"{"asDouble":"-Infinity","asInt":null,"start_time_unix_nano":"10","time_unix_nano":11}"#,
                    Ok(NumberDataPoint {
                        value: Some(number_data_point::Value::AsDouble(f64::NEG_INFINITY)),
                        start_time_unix_nano: 10,
                        time_unix_nano: 11,
                        ..Default::default()
                    }),
                ),
                (r#"{"asDouble":1,"asInt":1}"#, Err(&errors[0])),
                (r#"{"asInt":2.5}"#, Err(&errors[1])),
                (r#"{"flags":"DATA_POINT_FLAGS_BOGUS"}"#, Err(&errors[2])),
                (r#"{"exemplars":[{"traceId":"123"}]}"#, Err(&errors[3])),
                (
                    r#"{"exemplars":[{"asInt":1,"asDouble":1}]}"#,
                    Err(&errors[4]),
                ),
            ],
        );

        let nan = gauge_point(r#"{"asDouble":"NaN"}"#).unwrap();
        assert!(matches!(nan.value, Some(number_data_point::Value::AsDouble(d)) if d.is_nan()));
    }

    /// Every prefix of the examples, and every leaf of them swapped for each
    /// JSON type, decodes to a value or an error; none may panic.
    #[test]
    fn never_panics() {
        type Decode = fn(&[u8]) -> Result<(), JsonError>;
        let decoders: [(&str, Decode); 3] = [
            (TRACE_EXAMPLE, |b| decode_traces(b).map(drop)),
            (LOGS_EXAMPLE, |b| decode_logs(b).map(drop)),
            (METRICS_EXAMPLE, |b| decode_metrics(b).map(drop)),
        ];
        let replacements = [
            json!(null),
            json!(true),
            json!(-1),
            json!(1.5),
            json!("x"),
            json!([]),
            json!([{}]),
            json!({}),
        ];
        for (example, decode) in decoders {
            for end in 0..example.len() {
                let _ = decode(&example.as_bytes()[..end]);
            }
            let doc: Value = serde_json::from_str(example).unwrap();
            let mut pointers = Vec::new();
            leaves(&doc, String::new(), &mut pointers);
            assert!(pointers.len() > 20);
            for pointer in &pointers {
                for replacement in &replacements {
                    let mut mutated = doc.clone();
                    *mutated.pointer_mut(pointer).unwrap() = replacement.clone();
                    let _ = decode(mutated.to_string().as_bytes());
                }
            }
        }
    }

    /// JSON pointers to every member and element of `v`, containers included.
    fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, child) in o {
                    leaves(child, format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    leaves(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        if !at.is_empty() {
            out.push(at);
        }
    }
}
