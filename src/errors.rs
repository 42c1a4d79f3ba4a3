//! How a failure is said to the person who ran loupe: one line on stderr.

/// An error and its causes on one line, each said once: database drivers
/// often repeat their cause in their own message.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_lines_say_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let cases: [(anyhow::Error, &str); 3] = [
            (
                anyhow::Error::new(io).context("cannot read x.toml"),
                "cannot read x.toml: no such file",
            ),
            (
                anyhow::anyhow!("inner trouble")
                    .context("database error: inner trouble")
                    .context("cannot open database sqlite://x"),
                "cannot open database sqlite://x: database error: inner trouble",
            ),
            (anyhow::anyhow!("two\n  lines"), "two lines"),
        ];
        for (err, expected) in cases {
            assert_eq!(super::error_line(&err), expected);
        }
    }
}
