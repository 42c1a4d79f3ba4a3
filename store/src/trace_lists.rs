//! The two lists a trace's summary row keeps as single values rather than
//! rows of their own: its services and its packs.

/// A trace's services as one text of its summary row (`traces.services`),
/// so that a span adds no row of its own for them: the distinct names in
/// byte order, each between two U+001F (unit separator), e.g.
/// `"\u{1f}api\u{1f}db\u{1f}"`. A search for a service looks for its
/// `token`. The separator inside a name (which no service is expected to
/// have) becomes U+FFFD in the list; the spans keep the name as it is.
pub(crate) mod service_list {
    use std::collections::BTreeSet;

    const SEPARATOR: char = '\u{1f}';

    fn clean(name: &str) -> std::borrow::Cow<'_, str> {
        match name.contains(SEPARATOR) {
            true => name.replace(SEPARATOR, "\u{fffd}").into(),
            false => name.into(),
        }
    }

    fn join<'a>(names: impl IntoIterator<Item = std::borrow::Cow<'a, str>>) -> String {
        let names: BTreeSet<_> = names.into_iter().filter(|n| !n.is_empty()).collect();
        let mut list = String::new();
        for name in &names {
            list.push(SEPARATOR);
            list.push_str(name);
        }
        if !list.is_empty() {
            list.push(SEPARATOR);
        }
        list
    }

    /// The list of these names.
    pub(crate) fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
        join(names.into_iter().map(clean))
    }

    /// The list of the names of both lists.
    pub(crate) fn union(a: &str, b: &str) -> String {
        join(a.split(SEPARATOR).chain(b.split(SEPARATOR)).map(Into::into))
    }

    /// The names of a list.
    pub(crate) fn names(list: &str) -> Vec<String> {
        list.split(SEPARATOR)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// What a list holding `name` contains, and no other list does.
    pub(crate) fn token(name: &str) -> String {
        format!("{SEPARATOR}{}{SEPARATOR}", clean(name))
    }
}

/// The packs holding a trace's spans, as its summary row lists them
/// (`traces.packs`): their ids, 8 bytes big-endian each, in the order the
/// packs were written.
pub(crate) mod pack_ids {
    pub(crate) fn push(list: &mut Vec<u8>, id: i64) {
        list.extend_from_slice(&id.to_be_bytes());
    }

    /// The ids of a list; a damaged tail (not 8 bytes) is left out.
    pub(crate) fn of(list: &[u8]) -> impl Iterator<Item = i64> + '_ {
        list.chunks_exact(8)
            .map(|id| i64::from_be_bytes(id.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_lists() {
        use service_list::{names, of, token, union};
        let list = |names: &[&str]| of(names.iter().copied());
        for (given, expected) in [
            (&[][..], ""),
            (&["api"][..], "\u{1f}api\u{1f}"),
            (&["db", "api", "db"][..], "\u{1f}api\u{1f}db\u{1f}"),
            (&["Zeta", "alpha"][..], "\u{1f}Zeta\u{1f}alpha\u{1f}"),
            (&["", "x"][..], "\u{1f}x\u{1f}"),
            (&["a\u{1f}b"][..], "\u{1f}a\u{fffd}b\u{1f}"),
        ] {
            assert_eq!(list(given), expected, "{given:?}");
        }
        for (a, b, expected) in [
            (&[][..], &["api"][..], &["api"][..]),
            (&["api"][..], &["api"][..], &["api"][..]),
            (&["api", "web"][..], &["db"][..], &["api", "db", "web"][..]),
            (
                &["db"][..],
                &["api", "db", "web"][..],
                &["api", "db", "web"][..],
            ),
        ] {
            let merged = union(&list(a), &list(b));
            assert_eq!(merged, list(expected), "{a:?} + {b:?}");
            assert_eq!(names(&merged), expected, "{a:?} + {b:?}");
        }
        let listed = list(&["api", "api-gateway", "b"]);
        for (name, found) in [
            ("api", true),
            ("api-gateway", true),
            ("gateway", false),
            ("ap", false),
            ("", false),
            ("a\u{1f}b", false),
        ] {
            assert_eq!(listed.contains(&token(name)), found, "{name:?}");
        }
        assert!(list(&["a\u{1f}b"]).contains(&token("a\u{1f}b")));
    }
}
