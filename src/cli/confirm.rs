//! Asking a person at a terminal before something destructive.

use std::io::BufRead;

use super::output;

/// With `typed`, the person must type that exact text (e.g. the generation id);
/// otherwise a plain yes. Anything else, or end of input, means no.
pub fn ask(what: &str, typed: Option<&str>) -> bool {
    let prompt = match typed {
        Some(t) => format!("To {what}, type {t} and press Enter (anything else cancels): "),
        None => format!("{what}? Type yes to continue: "),
    };
    crate::out!("{prompt}");
    output::flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim() == typed.unwrap_or("yes")
}
