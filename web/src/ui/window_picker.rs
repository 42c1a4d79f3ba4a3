//! The window picker of the windowed pages (`windows.html`): a link per
//! window, the one in use marked.

/// The windows offered.
pub const WINDOWS: [&str; 5] = ["15m", "1h", "6h", "24h", "7d"];

pub struct WindowLink {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
}

/// A link per window to `path` with `window=…` and `keep` (the page's other
/// parameters, encoded, without the window), marking `picked`.
pub fn links(path: &str, picked: Option<&str>, keep: &str) -> Vec<WindowLink> {
    let keep = if keep.is_empty() {
        String::new()
    } else {
        format!("&{keep}")
    };
    WINDOWS
        .iter()
        .map(|&window| WindowLink {
            label: window,
            href: format!("{path}?window={window}{keep}"),
            active: picked == Some(window),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_other_parameters() {
        let links = links("/reports/load", Some("6h"), "service=a%20b");
        assert_eq!(links[0].href, "/reports/load?window=15m&service=a%20b");
        let active: Vec<&str> = links.iter().filter(|l| l.active).map(|l| l.label).collect();
        assert_eq!(active, ["6h"]);
        assert_eq!(super::links("/", None, "")[4].href, "/?window=7d");
    }
}
