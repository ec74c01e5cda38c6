//! The stand-in Structr's HTTP side: `GET /structr/health/ready`, and the
//! deployment export `GET /structr/deploy?name=N&mode=app`, which answers a zip of
//! a small application tree (schema/, pages/, components/, templates/, files/,
//! deploy.conf) for the superuser of structr.conf only (`X-User` / `X-Password`;
//! anything else is 401). Like Structr, it reads structr.conf when it starts: a
//! password changed in the file afterwards is a wrong one until a restart. The tree is derived from `<dir>/app.types` (one type
//! name a line), so it is the same on every export until a test changes that
//! file. Every request is logged to `logs/request.log`, like Jetty's request log.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zip::write::SimpleFileOptions;

/// The types a fresh stand-in's application has.
const DEFAULT_TYPES: &str = "Project\nTask\n";

pub fn layout(dir: &Path) -> std::io::Result<()> {
    let types = dir.join("app.types");
    if !types.exists() {
        fs::write(types, DEFAULT_TYPES)?;
    }
    Ok(())
}

/// The application export's files, path → content, in a fixed order.
pub fn app_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let text = fs::read_to_string(dir.join("app.types")).unwrap_or_default();
    let types: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let schema_types: Vec<String> = types
        .iter()
        .map(|t| format!("    {{\"name\": \"{t}\", \"properties\": {{\"name\": \"String\"}}}}"))
        .collect();
    let rows: String = types
        .iter()
        .map(|t| format!("      <li><a href=\"/{}\">{t}</a></li>\n", t.to_lowercase()))
        .collect();
    let mut files = vec![
        ("deploy.conf".to_string(), b"{}\n".to_vec()),
        (
            "schema/schema.json".to_string(),
            format!(
                "{{\n  \"types\": [\n{}\n  ]\n}}\n",
                schema_types.join(",\n")
            )
            .into_bytes(),
        ),
        (
            "pages/index/index.html".to_string(),
            format!("<html>\n  <body>\n    <ul>\n{rows}    </ul>\n  </body>\n</html>\n")
                .into_bytes(),
        ),
        (
            "pages.json".to_string(),
            b"[{\"name\": \"index\", \"position\": 0}]\n".to_vec(),
        ),
        (
            "components/header.html".to_string(),
            b"<header>stand-in</header>\n".to_vec(),
        ),
        (
            "templates/main.html".to_string(),
            b"<main>${render(children)}</main>\n".to_vec(),
        ),
        (
            "files/assets/logo.svg".to_string(),
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n".to_vec(),
        ),
        ("security/grants.json".to_string(), b"[]\n".to_vec()),
    ];
    for t in &types {
        files.push((
            format!("pages/{}/{}.html", t.to_lowercase(), t.to_lowercase()),
            format!("<h1>{t}</h1>\n").into_bytes(),
        ));
    }
    files
}

/// The tree as a zip with fixed times, so equal trees give equal bytes.
pub fn app_zip(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, body) in app_tree(dir) {
        w.start_file(name, opts).map_err(std::io::Error::other)?;
        w.write_all(&body)?;
    }
    Ok(w.finish().map_err(std::io::Error::other)?.into_inner())
}

struct Request {
    line: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn read(stream: &TcpStream) -> Option<Request> {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_lowercase(), v.trim().to_string()));
            }
        }
        Some(Request {
            line: line.trim_end().to_string(),
            headers,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.line.split_whitespace().nth(1).unwrap_or("")
    }
}

/// The superuser (name, password) of `<dir>/structr.conf`; None without a password.
fn superuser(dir: &Path) -> Option<(String, String)> {
    let conf = fs::read_to_string(dir.join("structr.conf")).unwrap_or_default();
    let p = crate::install::conf::parse_properties(&conf);
    let password = p.get("superuser.password").filter(|v| !v.is_empty())?;
    let user = p
        .get("superuser.username")
        .map_or("superadmin", String::as_str);
    Some((user.to_string(), password.clone()))
}

fn authorized(superuser: &Option<(String, String)>, req: &Request) -> bool {
    superuser.as_ref().is_some_and(|(user, password)| {
        req.header("x-user") == Some(user.as_str())
            && req.header("x-password") == Some(password.as_str())
    })
}

pub fn serve(listener: TcpListener, ready: Arc<AtomicBool>, dir: PathBuf) {
    let superuser = superuser(&dir);
    for stream in listener.incoming().flatten() {
        let Some(req) = Request::read(&stream) else {
            continue;
        };
        let path = req.path().to_string();
        let (status, body, kind): (&str, Vec<u8>, &str) = if !ready.load(Ordering::SeqCst) {
            ("503 Service Unavailable", Vec::new(), "text/plain")
        } else if path == "/structr/health/ready" {
            ("200 OK", Vec::new(), "text/plain")
        } else if path.starts_with("/structr/deploy?") && path.contains("mode=app") {
            if !authorized(&superuser, &req) {
                ("401 Unauthorized", b"Unauthorized\n".to_vec(), "text/plain")
            } else {
                match app_zip(&dir) {
                    Ok(zip) => ("200 OK", zip, "application/zip"),
                    Err(_) => ("500 Internal Server Error", Vec::new(), "text/plain"),
                }
            }
        } else {
            ("404 Not Found", Vec::new(), "text/plain")
        };
        if let Ok(mut log) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("logs/request.log"))
        {
            let _ = writeln!(log, "{} {}", req.line, &status[..3]);
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = (&stream).write_all(head.as_bytes());
        let _ = (&stream).write_all(&body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zip_is_the_same_until_the_types_change() {
        let t = tempfile::tempdir().unwrap();
        layout(t.path()).unwrap();
        let a = app_zip(t.path()).unwrap();
        assert_eq!(a, app_zip(t.path()).unwrap());
        fs::write(t.path().join("app.types"), "Project\nTask\nInvoice\n").unwrap();
        let b = app_zip(t.path()).unwrap();
        assert_ne!(a, b);
        let out = t.path().join("out");
        let z = t.path().join("b.zip");
        fs::write(&z, &b).unwrap();
        crate::repo::unzip::unzip(&z, &out, 1 << 30, &crate::cancel::Cancel::new()).unwrap();
        assert!(fs::read_to_string(out.join("schema/schema.json"))
            .unwrap()
            .contains("Invoice"));
        assert!(out.join("pages/invoice/invoice.html").is_file());
    }
}
