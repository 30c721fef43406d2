//! Where things are in a script's text, so a problem is reported with its line.

/// Where things are in a script's text, so a problem is reported with its line.
pub struct Lines<'a>(pub(super) &'a str);

impl Lines<'_> {
    /// `file:line` of the key `name` inside the object `section` (`""`: the top level), or
    /// the bare file name when it cannot be found.
    pub fn at(&self, file: &str, section: &str, name: &str) -> String {
        match self.line(section, name) {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        }
    }

    fn line(&self, section: &str, name: &str) -> Option<usize> {
        let text = self.0;
        let from = match section {
            "" => 0,
            section => key(text, section, 0)?,
        };
        let at = key(text, name, from)?;
        Some(text[..at].matches('\n').count() + 1)
    }
}

/// The offset of the first `"name":` at or after `from`.
fn key(text: &str, name: &str, from: usize) -> Option<usize> {
    let quoted = format!("\"{name}\"");
    let mut start = from;
    while let Some(found) = text.get(start..)?.find(&quoted) {
        let at = start + found;
        let rest = text[at + quoted.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(at);
        }
        start = at + quoted.len();
    }
    None
}
