//! The `http` request on the local machine: made in-process with `ureq` (rustls, the
//! Mozilla root store in `webpki-roots`, or the spec's `ca-file`).

use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::{BODY_LIMIT, Http, MAX_REDIRECTS, Response, USER_AGENT};
use crate::host::ProbeError;

impl Http {
    /// Makes the request in-process: the local target's own view.
    pub(super) fn fetch(&self, timeout: Duration, read_body: bool) -> Result<Response, ProbeError> {
        let agent = self.agent(timeout)?;
        let mut request = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(self.url.as_str());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let result = match &self.body {
            Some(body) => request
                .body(body.clone())
                .map_err(|e| ProbeError::Failed(format!("cannot build the request: {e}")))
                .and_then(|r| agent.run(r).map_err(|e| self.explain(e, timeout))),
            None => request
                .body(())
                .map_err(|e| ProbeError::Failed(format!("cannot build the request: {e}")))
                .and_then(|r| agent.run(r).map_err(|e| self.explain(e, timeout))),
        };
        let mut response = result?;
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}: {}",
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes())
                )
            })
            .collect();
        let body = if read_body {
            let bytes = response
                .body_mut()
                .with_config()
                .limit(u64::try_from(BODY_LIMIT).unwrap_or(u64::MAX))
                .read_to_vec()
                .map_err(|e| self.explain(e, timeout))?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            String::new()
        };
        Ok(Response {
            status: response.status().as_u16(),
            headers,
            body,
        })
    }

    fn agent(&self, timeout: Duration) -> Result<ureq::Agent, ProbeError> {
        let mut tls = TlsConfig::builder().disable_verification(!self.tls_verify);
        if let Some(path) = &self.ca_file {
            tls = tls.root_certs(RootCerts::Specific(Arc::new(read_ca_file(path)?)));
        }
        Ok(ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(if self.follow_redirects {
                MAX_REDIRECTS
            } else {
                0
            })
            // The target's own view is a direct connection: proxy variables in
            // ispec's environment are not the target's.
            .proxy(None)
            .allow_non_standard_methods(true)
            .timeout_global(Some(timeout))
            .user_agent(USER_AGENT)
            .tls_config(tls.build())
            .build()
            .new_agent())
    }

    /// Turns a ureq error into words a reader of the report can act on.
    fn explain(&self, error: ureq::Error, timeout: Duration) -> ProbeError {
        let to = &self.authority;
        match error {
            ureq::Error::Timeout(_) => ProbeError::Timeout(timeout),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                ProbeError::Failed(format!("cannot connect to {to}: connection refused"))
            }
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                ProbeError::Timeout(timeout)
            }
            ureq::Error::Io(e) => {
                // rustls reports certificate problems through the TLS stream as I/O.
                let inner = e.get_ref().map(ToString::to_string).unwrap_or_default();
                match untrusted(&inner) {
                    Some(why) => {
                        ProbeError::Failed(format!("TLS certificate of {to} not trusted: {why}"))
                    }
                    None => ProbeError::Failed(format!("connection to {to} failed: {e}")),
                }
            }
            ureq::Error::HostNotFound => {
                ProbeError::Failed(format!("cannot resolve the host of {}", self.url))
            }
            ureq::Error::Rustls(e) => {
                let text = e.to_string();
                match untrusted(&text) {
                    Some(why) => {
                        ProbeError::Failed(format!("TLS certificate of {to} not trusted: {why}"))
                    }
                    None => ProbeError::Failed(format!("TLS handshake with {to} failed: {text}")),
                }
            }
            ureq::Error::TooManyRedirects => ProbeError::Failed(format!(
                "more than {MAX_REDIRECTS} redirects from {}",
                self.url
            )),
            ureq::Error::BodyExceedsLimit(_) => ProbeError::Failed(format!(
                "the response body is larger than {} MiB",
                BODY_LIMIT / 1024 / 1024
            )),
            other => ProbeError::Failed(format!("request to {} failed: {other}", self.url)),
        }
    }
}

/// Words for a rustls certificate error (`invalid peer certificate: UnknownIssuer`),
/// or `None` if `text` is not one.
fn untrusted(text: &str) -> Option<String> {
    let why = text.strip_prefix("invalid peer certificate: ")?;
    let words = if why.starts_with("UnknownIssuer") {
        "it is not signed by a trusted authority (self-signed? see `ca-file`)"
    } else if why.starts_with("NotValidForName") {
        "it is not issued for this host name"
    } else if why.starts_with("Expired") {
        "it has expired"
    } else if why.starts_with("NotValidYet") {
        "it is not valid yet"
    } else if why.starts_with("Revoked") {
        "it has been revoked"
    } else {
        return Some(why.to_string());
    };
    Some(format!("{words} ({why})"))
}

/// Reads the CA certificates of a PEM bundle (keys and other items are ignored).
pub(super) fn read_ca_file(path: &str) -> Result<Vec<Certificate<'static>>, ProbeError> {
    let pem = std::fs::read(path)
        .map_err(|e| ProbeError::Failed(format!("cannot read `ca-file` `{path}`: {e}")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(ProbeError::Failed(format!(
                    "`ca-file` `{path}` is not valid PEM: {e}"
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(ProbeError::Failed(format!(
            "`ca-file` `{path}` holds no certificate"
        )));
    }
    Ok(certs)
}
