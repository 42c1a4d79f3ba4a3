//! The window picker of the windowed pages (`windows.html`): a link per
//! relative window, the one in use marked, and a form for an absolute
//! range whose date-time inputs show the window on screen.

use crate::params::Window;

/// The windows offered.
pub const WINDOWS: [&str; 5] = ["15m", "1h", "6h", "24h", "7d"];

pub struct WindowLink {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
}

pub struct Picker {
    pub links: Vec<WindowLink>,
    /// Where the range form goes, and the page's other parameters as its
    /// hidden fields.
    pub path: String,
    pub keep: Vec<(String, String)>,
    /// The window shown, as date-time input values in UTC (the pages'
    /// script shows them in the reader's zone); empty before it is known.
    pub from: String,
    pub to: String,
}

impl Picker {
    /// A link per window to `path` with `window=…` and `keep` (the page's
    /// other parameters, as given, without the window), marking `picked`.
    pub fn new(path: &str, picked: Option<&str>, keep: &[(&str, &str)]) -> Picker {
        let keep: Vec<(String, String)> = keep
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let rest = super::format::query(keep.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let rest = if rest.is_empty() {
            rest
        } else {
            format!("&{rest}")
        };
        let links = WINDOWS
            .iter()
            .map(|&window| WindowLink {
                label: window,
                href: format!("{path}?window={window}{rest}"),
                active: picked == Some(window),
            })
            .collect();
        Picker {
            links,
            path: path.to_owned(),
            keep,
            from: String::new(),
            to: String::new(),
        }
    }

    /// Fills the range form with the window the page shows, to whole
    /// seconds: the inputs step by seconds, and a value between steps
    /// would keep the form from being sent.
    pub fn show(&mut self, window: Window) {
        const S: i64 = 1_000_000_000;
        self.from = super::format::datetime_input(window.start.div_euclid(S) * S);
        self.to = super::format::datetime_input(window.end.div_euclid(S) * S);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_other_parameters() {
        let picker = Picker::new("/reports/load", Some("6h"), &[("service", "a b")]);
        assert_eq!(
            picker.links[0].href,
            "/reports/load?window=15m&service=a%20b"
        );
        let active: Vec<&str> = picker
            .links
            .iter()
            .filter(|l| l.active)
            .map(|l| l.label)
            .collect();
        assert_eq!(active, ["6h"]);
        assert_eq!(picker.keep, [("service".to_owned(), "a b".to_owned())]);
        let bare = Picker::new("/", None, &[("metric", "")]);
        assert_eq!(bare.links[4].href, "/?window=7d");
        assert!(bare.keep.is_empty());
        let mut shown = bare;
        shown.show(Window {
            start: 1_700_000_000_005_000_000,
            end: 1_700_003_600_000_000_000,
        });
        assert_eq!(
            (shown.from.as_str(), shown.to.as_str()),
            ("2023-11-14T22:13:20", "2023-11-14T23:13:20")
        );
    }
}
