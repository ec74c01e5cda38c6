//! Mail through the local mail system: `sendmail -oi -- RECIPIENTS`, the message on
//! its standard input, as cron does. Recipients go on the command line (never read
//! back from the headers), and the program gets 10 s like any other notification.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::http::TIMEOUT;

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
    let mut child = Command::new(sendmail)
        .arg("-oi")
        .arg("--")
        .args(&to)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", sendmail.display()))?;
    // Writing and reading happen beside the wait, so a program that reads nothing
    // or writes much cannot hold the run past the timeout.
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            let _ = stdin.write_all(message.as_bytes());
        })
    });
    let reader = child.stderr.take().map(|mut stderr| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        })
    });
    let deadline = crate::units::deadline(TIMEOUT);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s and was stopped",
                    sendmail.display(),
                    TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for {}: {e}", sendmail.display())),
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stderr = reader.and_then(|r| r.join().ok()).unwrap_or_default();
    match status.success() {
        true => Ok(()),
        false => Err(format!(
            "{} failed ({status}): {}",
            sendmail.display(),
            stderr.trim()
        )),
    }
}
