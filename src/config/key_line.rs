//! Where a key is written in the file, so a refusal can name its line.

/// The first line that assigns `key` (for messages; 0 when it is not written at all).
pub(super) fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| assigns(l, key))
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// The line that assigns `key` in `[section]` (or an `[[section]]`): several
/// sections have a `timeout_secs`. Else as [`line_of_key`].
pub(super) fn line_in_section(text: &str, section: &str, key: &str) -> usize {
    let mut current = "";
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']' || c == ' ');
            // A comment after the header: `[drill] # …`.
            current = current.split(']').next().unwrap_or(current).trim();
        } else if current == section && assigns(t, key) {
            return i + 1;
        }
    }
    line_of_key(text, key)
}

/// Whether `line` assigns `key` (`key = …`).
fn assigns(line: &str, key: &str) -> bool {
    line.trim_start()
        .strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}
