//! Structr's deployment export over HTTP: `GET <deploymentservlet.path>?name=N&mode=app`
//! on the HTTP port from structr.conf, authenticated as the superuser from
//! structr.conf (`X-User` / `X-Password`), answers a zip of the application
//! (schema, pages, components, templates, files, …; no user data). Loopback only,
//! like the health check: the superuser password must not cross a network.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use super::conf;

/// Where and as whom to ask for the export, from structr.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    /// `deploymentservlet.path`, `/structr/deploy` by default.
    pub path: String,
    pub user: String,
    pub password: String,
}

impl Endpoint {
    /// The URL without credentials (they travel in headers), for messages.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }
}

/// The endpoint from `<structr_dir>/structr.conf`; `Err` says why there is none
/// (no readable structr.conf, no superuser password).
pub fn endpoint(structr_dir: &Path) -> Result<Endpoint, String> {
    let file = structr_dir.join("structr.conf");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    parse_endpoint(&text).ok_or_else(|| format!("{} sets no superuser.password", file.display()))
}

/// The endpoint `text` (structr.conf) describes, None without a superuser password.
pub fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let p = conf::parse_properties(text);
    let password = p.get("superuser.password").filter(|v| !v.is_empty())?;
    let mut path = p
        .get("deploymentservlet.path")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| "/structr/deploy".into());
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    // A reverse-proxy root path prefixes every servlet.
    let root = p
        .get("application.root.path")
        .map(|r| r.trim_matches('/'))
        .unwrap_or("");
    if !root.is_empty() {
        path = format!("/{root}{path}");
    }
    Some(Endpoint {
        port: p
            .get("application.http.port")
            .and_then(|v| v.parse().ok())
            .unwrap_or(8082),
        path,
        user: p
            .get("superuser.username")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| "superadmin".into()),
        password: password.clone(),
    })
}

/// How long an export may take: Structr writes every page and file first.
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// Downloads the application export named `name` into `out` (a zip). The error
/// says what Structr answered, never the password. `cancelled` is asked between
/// chunks: Ctrl-C must not wait for a long export.
pub fn download_app(
    ep: &Endpoint,
    name: &str,
    out: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<u64, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .timeout_connect(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .user_agent(concat!("structr-backup/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let url = ep.url();
    let response = agent
        .get(&url)
        .query("name", name)
        .query("mode", "app")
        .header("X-User", &ep.user)
        .header("X-Password", &ep.password)
        .call()
        .map_err(|e| format!("{url} did not answer: {e}"))?;
    let status = response.status().as_u16();
    match status {
        200 => {}
        401 | 403 => {
            return Err(format!(
                "{url} refused the superuser {:?} from structr.conf (HTTP {status}); check superuser.username and superuser.password",
                ep.user
            ))
        }
        _ => return Err(format!("{url} answered HTTP {status}")),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut body = response.into_body();
    let mut reader = body.as_reader();
    let mut buf = vec![0u8; 256 * 1024];
    let mut copied = 0u64;
    loop {
        if cancelled() {
            return Err("cancelled".into());
        }
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("reading the export from {url}: {e}"))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        copied += n as u64;
    }
    file.flush()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    if copied == 0 {
        return Err(format!("{url} answered an empty export"));
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_structr_conf() {
        assert_eq!(parse_endpoint("application.http.port = 9090\n"), None);
        let ep =
            parse_endpoint("superuser.password = s3cret\napplication.http.port = 9090\n").unwrap();
        assert_eq!(
            ep,
            Endpoint {
                port: 9090,
                path: "/structr/deploy".into(),
                user: "superadmin".into(),
                password: "s3cret".into()
            }
        );
        let ep = parse_endpoint(
            "superuser.password = x\nsuperuser.username = root\n\
             deploymentservlet.path = structr/dep\napplication.root.path = /app/\n",
        )
        .unwrap();
        assert_eq!(
            (ep.path.as_str(), ep.user.as_str()),
            ("/app/structr/dep", "root")
        );
        assert_eq!(ep.url(), "http://127.0.0.1:8082/app/structr/dep");
    }

    /// A one-shot server: answers `status` with `body`, hands back the request.
    fn serve_once(
        status: &'static str,
        body: &'static [u8],
    ) -> (u16, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut req = String::new();
            let mut r = BufReader::new(&s);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                req.push_str(&line);
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            (&s).write_all(head.as_bytes()).unwrap();
            (&s).write_all(body).unwrap();
            req
        });
        (port, h)
    }

    #[test]
    fn download_sends_the_superuser_and_reads_401() {
        let t = tempfile::tempdir().unwrap();
        let (port, h) = serve_once("200 OK", b"PK-zip-bytes");
        let ep = Endpoint {
            port,
            path: "/structr/deploy".into(),
            user: "superadmin".into(),
            password: "pw".into(),
        };
        let out = t.path().join("a.zip");
        assert_eq!(download_app(&ep, "g1", &out, &|| false), Ok(12));
        let req = h.join().unwrap().to_lowercase();
        assert!(
            req.starts_with("get /structr/deploy?name=g1&mode=app "),
            "{req}"
        );
        assert!(
            req.contains("x-user: superadmin") && req.contains("x-password: pw"),
            "{req}"
        );

        let (port, h) = serve_once("401 Unauthorized", b"");
        let err = download_app(
            &Endpoint { port, ..ep },
            "g2",
            &t.path().join("b.zip"),
            &|| false,
        )
        .unwrap_err();
        h.join().unwrap();
        assert!(err.contains("HTTP 401") && !err.contains("pw"), "{err}");
    }
}
