//! Text from outside (a repository, a program's output, a label) made safe to
//! print on a terminal: no control characters, no bidi overrides, bounded length.

/// `s` safe to print on a terminal: control characters (escape sequences, carriage
/// returns, newlines) and characters that reorder or break what follows them on
/// screen become `?`, and at most `max` characters are kept.
pub fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if is_unprintable(c) { '?' } else { c })
        .collect()
}

/// Control characters, and the bidirectional overrides, embeddings, isolates and
/// marks (U+202E makes `exe.txt` of `txt.exe`) and the line and paragraph
/// separators: none of them belongs in a label, a host name or a path we show.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// Like `printable`, but keeping line breaks (for a command's output).
pub fn printable_lines(s: &str, max: usize) -> String {
    let kept: String = s.chars().take(max).collect();
    kept.lines()
        .map(|l| printable(l, max))
        .collect::<Vec<_>>()
        .join("\n")
}
