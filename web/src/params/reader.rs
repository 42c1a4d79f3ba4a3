//! Reading a query string into the typed parameters of `params`.
//!
//! The pairs are read first (`Pairs`: values trimmed, empty ones left out),
//! then each struct takes the names it knows. A parameter no struct of the
//! request takes is refused or ignored (`Unknown`): the JSON API refuses
//! it, so that a misspelt filter is an error and not every row.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::{DeserializeOwned, Error as _, Visitor};

use super::error::ParamError;
use super::window::TimeParams;

/// A query string's name–value pairs in order, each value trimmed. Pairs
/// with an empty value are left out: `?service=` means no service, which is
/// what a form's empty field sends. Their names are kept, to be checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs {
    pairs: Vec<(String, String)>,
    empty: Vec<String>,
}

/// What to do with a parameter the request does not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    Refuse,
    Ignore,
}

impl Pairs {
    pub fn parse(query: &str) -> Pairs {
        // The form decoding never fails: bad escapes and bytes pass as they are.
        let all: Vec<(String, String)> = serde_html_form::from_str(query).unwrap_or_default();
        let (pairs, empty): (Vec<_>, Vec<_>) = all
            .into_iter()
            .map(|(name, value)| (name, value.trim().to_owned()))
            .partition(|(_, value)| !value.is_empty());
        Pairs {
            pairs,
            empty: empty.into_iter().map(|(name, _)| name).collect(),
        }
    }

    /// The first value of `name`, as given: what a form shows again.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, as given.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The window parameters as given, first values only and unchecked: for
    /// the links and forms of a page, whatever is wrong with them.
    pub fn time(&self) -> TimeParams {
        let get = |name| self.get(name).map(str::to_owned);
        TimeParams {
            window: get("window"),
            from: get("from"),
            to: get("to"),
            since: get("since"),
            until: get("until"),
            start: get("start"),
            end: get("end"),
        }
    }

    /// Reads `T`. An unknown parameter, when refused, is the error even if
    /// others are wrong too: it is the likelier mistake. Given empty, it is
    /// refused all the same, since its name is what is wrong.
    pub fn read<T: FromQuery>(&self, unknown: Unknown) -> Result<T, ParamError> {
        if unknown == Unknown::Refuse {
            let names = T::names();
            let mut given = self.pairs.iter().map(|(name, _)| name).chain(&self.empty);
            if let Some(name) = given.find(|n| !names.contains(&n.as_str())) {
                return Err(ParamError::unknown(name));
            }
        }
        T::from_pairs(&self.pairs)
    }
}

/// Pages read their pairs themselves, to show the form again as typed.
impl<S: Send + Sync> FromRequestParts<S> for Pairs {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Pairs, Infallible> {
        Ok(Pairs::parse(parts.uri.query().unwrap_or_default()))
    }
}

/// What a request's parameters are read into.
pub trait FromQuery: Sized {
    /// Every name it reads.
    fn names() -> Vec<&'static str>;
    /// Reads its parameters from `pairs`, leaving the others alone.
    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ParamError>;
}

/// A struct whose `Deserialize` is derived: its fields (and their serde
/// aliases) are its names.
impl<T: DeserializeOwned> FromQuery for T {
    fn names() -> Vec<&'static str> {
        field_names::<T>().to_vec()
    }

    fn from_pairs(pairs: &[(String, String)]) -> Result<T, ParamError> {
        let names = field_names::<T>();
        let own: Vec<&(String, String)> = pairs
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .collect();
        // Encoded again so that the form deserializer groups repeated
        // names into the sequences (`attr`) that take them.
        let query = serde_html_form::to_string(&own).unwrap_or_default();
        let deserializer = serde_html_form::Deserializer::from_bytes(query.as_bytes());
        serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            // `attr[1]` is a value of `attr`.
            let name = path.split(['[', '.']).next().unwrap_or_default();
            let message = err.inner().to_string();
            match message.as_str() {
                // What the form deserializer says of a repeated name whose
                // field takes one value.
                "unsupported value" if !name.is_empty() => {
                    ParamError::new(format!("{name} may be given only once"))
                }
                // What serde says of a field given under two of its names.
                _ if message.starts_with("duplicate field `") => {
                    let field = message["duplicate field `".len()..].trim_end_matches('`');
                    ParamError::new(format!(
                        "{field} may be given only once, under one of its names"
                    ))
                }
                _ if name.is_empty() || name == "?" => ParamError::new(message),
                _ => ParamError::invalid(name, &message),
            }
        })
    }
}

/// A request's window and its other parameters, from one query string.
#[derive(Debug)]
pub struct Windowed<T> {
    pub time: TimeParams,
    pub query: T,
}

impl<T: FromQuery> FromQuery for Windowed<T> {
    fn names() -> Vec<&'static str> {
        let mut names = TimeParams::names();
        names.extend(T::names());
        names
    }

    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        Ok(Windowed {
            time: TimeParams::from_pairs(pairs)?,
            query: T::from_pairs(pairs)?,
        })
    }
}

/// Two sets of parameters from one query string.
#[derive(Debug)]
pub struct Also<T, U>(pub T, pub U);

impl<T: FromQuery, U: FromQuery> FromQuery for Also<T, U> {
    fn names() -> Vec<&'static str> {
        let mut names = T::names();
        names.extend(U::names());
        names
    }

    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        Ok(Also(T::from_pairs(pairs)?, U::from_pairs(pairs)?))
    }
}

/// The field names a derived `Deserialize` passes to `deserialize_struct`
/// (serde lists aliases there too), caught by a deserializer that records
/// them and reads nothing.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Recorder<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Recorder<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("names recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Recorder(&mut names));
    names
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Filters {
        service: Option<String>,
        #[serde(alias = "n")]
        limit: Option<u32>,
        #[serde(default)]
        tag: Vec<String>,
    }

    fn check(query: &str, unknown: Unknown, expected: Result<Filters, &str>) {
        let got = Pairs::parse(query).read::<Filters>(unknown);
        match (got, expected) {
            (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{query}"),
            (Err(err), Err(message)) => assert_eq!(err.message(), message, "{query}"),
            (got, expected) => panic!("{query}: got {got:?}, expected {expected:?}"),
        }
    }

    fn filters(service: Option<&str>, limit: Option<u32>, tag: &[&str]) -> Filters {
        Filters {
            service: service.map(str::to_owned),
            limit,
            tag: tag.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn pairs_are_read_into_their_struct() {
        use Unknown::{Ignore, Refuse};
        check("", Refuse, Ok(filters(None, None, &[])));
        check(
            "service=+a%20b+&limit=3",
            Refuse,
            Ok(filters(Some("a b"), Some(3), &[])),
        );
        // An empty value is no value.
        check("service=&limit=%20", Refuse, Ok(filters(None, None, &[])));
        check(
            "tag=x&tag=y&tag=",
            Refuse,
            Ok(filters(None, None, &["x", "y"])),
        );
        check("tag=x", Refuse, Ok(filters(None, None, &["x"])));
        check("n=4", Refuse, Ok(filters(None, Some(4), &[])));
        check(
            "bogus=1&limit=x",
            Refuse,
            Err("unknown parameter \"bogus\""),
        );
        check("bogus=1&limit=2", Ignore, Ok(filters(None, Some(2), &[])));
        check(
            "limit=1&limit=2",
            Refuse,
            Err("limit may be given only once"),
        );
        check(
            "n=1&limit=2",
            Refuse,
            Err("limit may be given only once, under one of its names"),
        );
        check(
            "limit=x",
            Ignore,
            Err("limit invalid digit found in string"),
        );
    }

    #[test]
    fn windows_are_read_beside_other_parameters() {
        let pairs = Pairs::parse("window=1h&service=a&since=2h&x=1");
        let read: Windowed<Filters> = pairs.read(Unknown::Ignore).unwrap();
        assert_eq!(read.time.window.as_deref(), Some("1h"));
        assert_eq!(read.time.since.as_deref(), Some("2h"));
        assert_eq!(read.query, filters(Some("a"), None, &[]));
        let refused = pairs.read::<Windowed<Filters>>(Unknown::Refuse);
        assert_eq!(refused.unwrap_err().message(), "unknown parameter \"x\"");
        assert_eq!(pairs.time().window.as_deref(), Some("1h"));
        assert_eq!(pairs.get("service"), Some("a"));
        assert_eq!(<Windowed<Filters>>::names().len(), 11);
    }
}
