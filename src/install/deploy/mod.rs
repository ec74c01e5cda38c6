//! Structr's deployment export over HTTP: `GET <deploymentservlet.path>?name=N&mode=app`
//! on the HTTP port from structr.conf, authenticated as the superuser from
//! structr.conf (`X-User` / `X-Password`), answers a zip of the application
//! (schema, pages, components, templates, files, …; no user data). Loopback only,
//! like the health check: the superuser password must not cross a network.
//!
//! The password goes only to a process we have reason to trust: Structr must run
//! as the configured service, and every socket that takes connections to
//! `127.0.0.1:PORT` must belong to root (a service manager, Docker's proxy), to
//! the user of the service's main process (systemd's MainPID), or to the owner of
//! structr.conf (who can read the password anyway). It is checked before the
//! connection and again once connected; a redirect is never followed.

pub mod http;
pub mod listen;

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Installation;
use crate::cancel::Cancel;
use crate::secrets::Secret;
pub use http::{FetchError, Limits};

use super::conf;

/// Where and as whom to ask for the export, from structr.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    /// `deploymentservlet.path`, `/structr/deploy` by default.
    pub path: String,
    pub user: String,
    pub password: Secret,
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
        password: Secret::new(password.clone()),
    })
}

/// The uids whose sockets may hear the password: see the module's comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted(BTreeSet<u32>);

/// Whether Structr runs as `inst`'s configured service, and whom its port may
/// belong to. `Err` says why the password must not be sent.
pub fn trusted(inst: &Installation, structr_dir: &Path, port: u16) -> Result<Trusted, String> {
    // Every kind names its Structr service `structr`.
    let svc = inst.service("structr").ok_or(
        "no Structr service is configured, so nothing shows that Structr is what answers on its port",
    )?;
    match svc.is_running() {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "Structr is not running ({}); the superuser password is sent only to the running Structr service",
                svc.describe()
            ))
        }
        Err(e) => return Err(format!("cannot tell whether Structr runs: {e}")),
    }
    let mut uids = BTreeSet::from([0u32]);
    let conf = structr_dir.join("structr.conf");
    let meta =
        std::fs::metadata(&conf).map_err(|e| format!("cannot read {}: {e}", conf.display()))?;
    uids.insert(meta.uid());
    if let Some(pid) = svc.main_pid() {
        uids.extend(listen::process_uids(pid)?);
    }
    let trusted = Trusted(uids);
    check_listeners(port, &trusted)?;
    Ok(trusted)
}

/// Every socket that takes connections to `127.0.0.1:port` belongs to a trusted uid.
pub fn check_listeners(port: u16, trusted: &Trusted) -> Result<(), String> {
    let found = listen::listeners(port)?;
    if found.is_empty() {
        return Err(format!("nothing listens on 127.0.0.1:{port}"));
    }
    match found.iter().find(|l| !trusted.0.contains(&l.uid)) {
        None => Ok(()),
        Some(l) => Err(format!(
            "port {port} ({}) is held by a socket of {}, not of Structr's user ({}); the superuser password is not sent there",
            l.addr,
            user_name(l.uid),
            trusted.0.iter().map(|u| user_name(*u)).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("{} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

/// Downloads the application export named `name` from the Structr of `inst` into
/// `out`, after the checks of [`trusted`]. The error says what Structr answered,
/// never the password.
pub fn download_app(
    inst: &Installation,
    structr_dir: &Path,
    ep: &Endpoint,
    name: &str,
    out: &mut dyn Write,
    limits: Limits,
    cancel: &Cancel,
) -> Result<u64, FetchError> {
    let trust = trusted(inst, structr_dir, ep.port).map_err(FetchError::Failed)?;
    fetch(ep, name, out, limits, cancel, &|| {
        check_listeners(ep.port, &trust)
    })
}

/// The exchange itself: `connected` is asked once the connection stands, before
/// anything is sent (the port's owner may have changed since the first check).
pub fn fetch(
    ep: &Endpoint,
    name: &str,
    out: &mut dyn Write,
    limits: Limits,
    cancel: &Cancel,
    connected: &dyn Fn() -> Result<(), String>,
) -> Result<u64, FetchError> {
    let url = ep.url();
    let request = request(ep, name)?;
    let mut conn = http::Connection::open(ep.port, &url, limits, cancel)?;
    connected().map_err(FetchError::Failed)?;
    conn.send(request.as_bytes())?;
    let head = conn.head()?;
    match head.status {
        200 => {}
        401 | 403 => {
            return Err(FetchError::Failed(format!(
                "{url} refused the superuser {:?} from structr.conf (HTTP {}); check superuser.username and superuser.password",
                ep.user, head.status
            )))
        }
        300..=399 => {
            let to = head.location.as_deref().map_or("nowhere".into(), shown_location);
            return Err(FetchError::Failed(format!(
                "{url} answered HTTP {} with a redirect to {to}, which is not followed (the superuser password is sent to this one address only); set application.http.port and deploymentservlet.path in structr.conf to where Structr answers",
                head.status
            )));
        }
        s => return Err(FetchError::Failed(format!("{url} answered HTTP {s}"))),
    }
    let n = conn.body(&head, out)?;
    if n == 0 {
        return Err(FetchError::Failed(format!(
            "{url} answered an empty export"
        )));
    }
    Ok(n)
}

/// The request, credentials in its headers. A value that could end a header line
/// early (and smuggle in another) is refused.
fn request(ep: &Endpoint, name: &str) -> Result<String, FetchError> {
    let plain = |s: &str| !s.chars().any(|c| c.is_control());
    if !plain(&ep.user) || !plain(ep.password.expose()) {
        return Err(FetchError::Failed(
            "superuser.username or superuser.password in structr.conf holds a control character; it cannot go into an HTTP header".into(),
        ));
    }
    if !ep.path.chars().all(|c| c.is_ascii_graphic()) || ep.path.contains(['?', '#']) {
        return Err(FetchError::Failed(format!(
            "deploymentservlet.path {:?} in structr.conf is no plain path",
            ep.path
        )));
    }
    Ok(format!(
        "GET {}?name={}&mode=app HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: structr-backup/{}\r\nAccept: */*\r\nX-User: {}\r\nX-Password: {}\r\nConnection: close\r\n\r\n",
        ep.path,
        http::encode(name),
        ep.port,
        env!("CARGO_PKG_VERSION"),
        ep.user,
        ep.password.expose()
    ))
}

/// A redirect's target as it may be shown: redacted, printable, short.
fn shown_location(loc: &str) -> String {
    let clean: String = loc.chars().filter(|c| !c.is_control()).take(200).collect();
    crate::secrets::redact(&clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        idle: Duration::from_secs(5),
        total: Duration::from_secs(10),
    };

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
                password: Secret::new("s3cret")
            }
        );
        assert!(!format!("{ep:?}").contains("s3cret"));
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

    /// A one-shot server: answers `answer` (a whole response), hands back the request.
    fn serve_once(answer: String) -> (u16, std::thread::JoinHandle<String>) {
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
            (&s).write_all(answer.as_bytes()).unwrap();
            req
        });
        (port, h)
    }

    fn endpoint_on(port: u16) -> Endpoint {
        Endpoint {
            port,
            path: "/structr/deploy".into(),
            user: "superadmin".into(),
            password: Secret::new("pw"),
        }
    }

    #[test]
    fn fetch_sends_the_superuser_and_reads_401() {
        let (port, h) =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nPK-zip-bytes".into());
        let ep = endpoint_on(port);
        let mut out = Vec::new();
        let got = fetch(&ep, "g1", &mut out, LIMITS, &Cancel::new(), &|| Ok(()));
        assert_eq!(got, Ok(12));
        assert_eq!(out, b"PK-zip-bytes");
        let req = h.join().unwrap().to_lowercase();
        assert!(
            req.starts_with("get /structr/deploy?name=g1&mode=app "),
            "{req}"
        );
        assert!(
            req.contains("x-user: superadmin") && req.contains("x-password: pw"),
            "{req}"
        );

        let (port, h) = serve_once("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".into());
        let err = fetch(
            &endpoint_on(port),
            "g2",
            &mut Vec::new(),
            LIMITS,
            &Cancel::new(),
            &|| Ok(()),
        )
        .unwrap_err()
        .to_string();
        h.join().unwrap();
        assert!(err.contains("HTTP 401") && !err.contains("pw"), "{err}");
    }

    #[test]
    fn nothing_is_sent_when_the_port_changed_hands() {
        let (port, h) = serve_once(String::new());
        let err = fetch(
            &endpoint_on(port),
            "g",
            &mut Vec::new(),
            LIMITS,
            &Cancel::new(),
            &|| Err("held by nobody".into()),
        )
        .unwrap_err();
        assert_eq!(err, FetchError::Failed("held by nobody".into()));
        assert_eq!(h.join().unwrap(), "", "the request was never sent");
    }

    #[test]
    fn a_redirect_is_reported_not_followed() {
        let (port, h) = serve_once(
            "HTTP/1.1 302 Found\r\nLocation: http://admin:hunter2@127.0.0.2:9/take\r\nContent-Length: 0\r\n\r\n".into(),
        );
        let err = fetch(
            &endpoint_on(port),
            "g",
            &mut Vec::new(),
            LIMITS,
            &Cancel::new(),
            &|| Ok(()),
        )
        .unwrap_err()
        .to_string();
        h.join().unwrap();
        assert!(
            err.contains("HTTP 302") && err.contains("not followed"),
            "{err}"
        );
        assert!(
            err.contains("127.0.0.2:9") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn a_line_break_in_the_password_is_refused() {
        let ep = Endpoint {
            password: Secret::new("pw\r\nX-Evil: 1"),
            ..endpoint_on(1)
        };
        let err = request(&ep, "g").unwrap_err().to_string();
        assert!(
            err.contains("control character") && !err.contains("pw"),
            "{err}"
        );
    }
}
