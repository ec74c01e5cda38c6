//! Mail through the local mail system: `sendmail -oi -- RECIPIENTS`, the message on
//! its standard input, as cron does. Recipients go on the command line (never read
//! back from the headers), and the program gets 10 s like any other notification.

use std::path::Path;

use super::http::TIMEOUT;
use crate::process::Cmd;

/// Hands one plain-text mail to `sendmail`.
pub fn send(sendmail: &Path, recipients: &str, subject: &str, body: &str) -> Result<(), String> {
    let to: Vec<&str> = recipients
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    if !sendmail.exists() {
        return Err(format!(
            "{} does not exist; install a mail transfer agent (e.g. postfix or msmtp-mta), \
             or set `sendmail` in [notify] to the program to use",
            sendmail.display()
        ));
    }
    let message = format!(
        "To: {}\nSubject: {subject}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\n{body}",
        to.join(", ")
    );
    let out = Cmd::new(sendmail)
        .arg("-oi")
        .arg("--")
        .args(&to)
        .stdin(message)
        .timeout(TIMEOUT)
        .output()
        .map_err(|e| e.to_string())?;
    match out.success() {
        true => Ok(()),
        false => Err(format!("{} failed: {}", sendmail.display(), out.tail())),
    }
}
