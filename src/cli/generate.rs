//! The man page and the shell completions, generated from the clap definitions
//! so they never drift from the real options (`structr-backup generate-assets`,
//! hidden; scripts/package ships its output).

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;

use super::args::{Cli, VERSION};
use super::env::Failure;
use crate::errln;
use crate::ops::exit::Exit;

const NAME: &str = "structr-backup";

/// Writes into `out`: `structr-backup.1` (the man page, uncompressed),
/// `structr-backup.bash`, `_structr-backup` (zsh) and `structr-backup.fish`.
pub fn run(out: &Path) -> Result<(), Failure> {
    let fail = |what: &str, path: &Path, e: io::Error| Failure {
        exit: Exit::Failed,
        message: format!(
            "cannot write {what} to {}: {e}; give --out a folder you can write to",
            path.display()
        ),
    };
    std::fs::create_dir_all(out).map_err(|e| fail("the folder", out, e))?;
    let page = out.join(format!("{NAME}.1"));
    let text = man_page().map_err(|e| fail("the man page", &page, e))?;
    std::fs::write(&page, text).map_err(|e| fail("the man page", &page, e))?;
    for (shell, file) in completion_files() {
        let path = out.join(file);
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut visible_command(), NAME, &mut buf);
        std::fs::write(&path, buf).map_err(|e| fail("a completion script", &path, e))?;
    }
    errln!(
        "wrote the man page and the completions into {}",
        out.display()
    );
    Ok(())
}

/// The command line without its hidden commands: clap_complete offers hidden
/// subcommands too, and clap cannot remove one, so the completions are made
/// from a copy holding the same arguments and only the visible subcommands.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new(NAME)
        .version(VERSION)
        .args(full.get_arguments().cloned());
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd.subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// The file each shell's completion loader looks for (bash-completion by the
/// command's name, zsh by `_` plus the name, fish by the name plus `.fish`).
pub fn completion_files() -> [(Shell, PathBuf); 3] {
    [
        (Shell::Bash, PathBuf::from(format!("{NAME}.bash"))),
        (Shell::Zsh, PathBuf::from(format!("_{NAME}"))),
        (Shell::Fish, PathBuf::from(format!("{NAME}.fish"))),
    ]
}

/// One page, `structr-backup(1)`, with a section per command: the unit's
/// `Documentation=man:structr-backup(1)` leads here, and a sysadmin reads one
/// page rather than hunting for one per subcommand.
pub fn man_page() -> io::Result<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = Man::new(cmd.clone()).manual("structr-backup manual");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    page.extend_from_slice(DESCRIPTION.as_bytes());
    man.render_options_section(&mut page)?;

    // Global options are described once above, not again under every command.
    let globals: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().to_string())
        .collect();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub = sub.clone();
        for id in globals.iter().map(String::as_str).chain(["help"]) {
            if sub.get_arguments().any(|a| a.get_id() == id) {
                sub = sub.mut_arg(id, |a| a.hide(true));
            }
        }
        page.extend_from_slice(
            format!(".SH \"COMMAND: {}\"\n", sub.get_name().to_uppercase()).as_bytes(),
        );
        let man = Man::new(sub.clone());
        page.extend_from_slice(without_heading(&man, Man::render_synopsis_section)?.as_bytes());
        page.extend_from_slice(b".PP\n");
        page.extend_from_slice(without_heading(&man, Man::render_description_section)?.as_bytes());
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page.extend_from_slice(b".SS Options\n");
            page.extend_from_slice(without_heading(&man, Man::render_options_section)?.as_bytes());
        }
    }
    page.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    page.extend_from_slice(EXIT_STATUS.as_bytes());
    page.extend_from_slice(TRAILER.as_bytes());
    man.render_version_section(&mut page)?;
    String::from_utf8(page).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A clap_mangen section without its `.SH` line, to be placed under our own heading.
fn without_heading(
    man: &Man,
    render: fn(&Man, &mut dyn io::Write) -> io::Result<()>,
) -> io::Result<String> {
    let mut buf = Vec::new();
    render(man, &mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text
        .lines()
        .filter(|l| !l.starts_with(".SH "))
        .map(|l| format!("{l}\n"))
        .collect())
}

// Hand-written roff: hyphens meant as minus signs are `\-`, as man-pages(7) asks.
const DESCRIPTION: &str = r#".PP
A backup stops Structr, then Neo4j, archives the Neo4j data folder and the Structr
folder into a new generation of the repository, and starts both services again,
whatever happens during the copy. Without a command, on a terminal, it opens an
interactive wizard.
.PP
The installation (a Debian server with systemd units, a Docker Compose setup, or
services described by commands) is detected or described in the config file.
"#;

const EXIT_STATUS: &str = r#".TP
.B 0
success
.TP
.B 1
failed
.TP
.B 2
usage error
.TP
.B 3
verification failed
.TP
.B 4
the repository or the installation is locked by another run
.TP
.B 5
cancelled (Ctrl\-C, SIGTERM, a lost terminal)
.TP
.B 6
an interrupted run left services stopped; run
.B structr\-backup recover
.TP
.B 10
there is no repository where one was named (as restic)
.TP
.B 12
the password does not open the repository (as restic)
"#;

const TRAILER: &str = r#".SH ENVIRONMENT
.TP
.B STRUCTR_BACKUP_CONFIG
the config file, when
.B \-\-config
is not given
.TP
.B NO_COLOR
no colours in the output
.TP
.B JOURNAL_STREAM
set by systemd; when stderr is the journal, every line carries its syslog
priority, so
.B journalctl \-p warning
shows the warnings and errors of a run
.SH FILES
.TP
.I /etc/structr\-backup/config.toml
the config file (for root; other users: their config folder)
.TP
.I /var/backups/structr
the default repository
.TP
.I /var/lib/structr\-backup/
what a run stopped, so that an interrupted run can be recovered
.TP
.I /lib/systemd/system/structr\-backup.service, structr\-backup.timer
the nightly backup; enable it with
.B systemctl enable \-\-now structr\-backup.timer
.SH "SEE ALSO"
.BR systemctl (1),
.BR journalctl (1),
.BR systemd.timer (5),
.BR restic (1)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_a_section_per_command_and_no_hidden_one() {
        let page = man_page().unwrap();
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            let heading = format!(".SH \"COMMAND: {}\"", sub.get_name().to_uppercase());
            assert!(page.contains(&heading), "{heading} missing");
        }
        assert!(
            !page.contains("GENERATE"),
            "the hidden command is not documented"
        );
        assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    }

    #[test]
    fn completions_offer_the_commands_but_not_the_hidden_one() {
        for (shell, _) in completion_files() {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut visible_command(), NAME, &mut buf);
            let script = String::from_utf8(buf).unwrap();
            assert!(
                script.contains("restore") && script.contains("keep-within"),
                "{shell}"
            );
            assert!(!script.contains("generate-assets"), "{shell}");
        }
    }
}
