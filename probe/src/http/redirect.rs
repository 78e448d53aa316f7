//! Following a redirect: where it leads (a `Location` resolved as RFC 3986 says)
//! and what the next request keeps of the last one (its method, its body, headers
//! meant for one host only), as `curl -L` does.

use super::{Response, parse_url};

/// Where `response` redirects to: its `Location` when it is a redirect with one.
/// An empty `Location` is no redirect (as for `curl -L`), since it would lead back
/// to the same URL for ever.
pub(super) fn redirect(response: &Response) -> Option<&str> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    response.header("location").filter(|to| !to.is_empty())
}

/// Returns true if and only if the request that follows a redirect with `status`
/// is a `GET` without a body: after a `303` for any method but `HEAD`, and after a
/// `301` or `302` for `POST`, as browsers, `curl -L` and ureq do. `307` and `308`
/// keep the method and the body.
pub(super) fn switches_to_get(status: u16, method: &str) -> bool {
    match status {
        303 => method != "HEAD",
        301 | 302 => method == "POST",
        _ => false,
    }
}

/// Returns true if and only if the header `name` may go only to the host it was
/// written for: `Host` (the server it names is not the next one), and the
/// credentials `Authorization` and `Cookie`, which `curl` also keeps from another
/// host or port (CVE-2022-27776).
pub(super) fn is_for_origin_only(name: &str) -> bool {
    ["host", "authorization", "cookie"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// Returns true if and only if `a` and `b` are `http://` URLs of the same host and
/// port.
pub(super) fn same_origin(a: &str, b: &str) -> bool {
    match (parse_url(a), parse_url(b)) {
        (Ok(a), Ok(b)) => a.host.eq_ignore_ascii_case(&b.host) && a.port == b.port,
        _ => false,
    }
}

/// `location` made absolute against `base` (RFC 3986 section 5.2, for the `http://`
/// URLs the probe follows): a URL with a scheme as it is, `//host/...` on the base's
/// scheme, `/path` on the base's host, `?query` on the base's path, and a relative
/// path beside the base's last segment, `.` and `..` segments removed.
pub(super) fn join(base: &str, location: &str) -> String {
    let location = location.split('#').next().unwrap_or("");
    if has_scheme(location) {
        return location.to_string();
    }
    let (scheme, after) = base.split_once("://").unwrap_or(("http", base));
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let after = after.split('#').next().unwrap_or("");
    let (authority, path_query) = match after.find(['/', '?']) {
        Some(at) => after.split_at(at),
        None => (after, ""),
    };
    let origin = format!("{scheme}://{authority}");
    let base_path = path_query.split('?').next().unwrap_or("");
    if location.is_empty() {
        return format!("{origin}{path_query}");
    }
    if location.starts_with('?') {
        let path = if base_path.is_empty() { "/" } else { base_path };
        return format!("{origin}{path}{location}");
    }
    let (path, query) = match location.find('?') {
        Some(at) => location.split_at(at),
        None => (location, ""),
    };
    let merged = if path.starts_with('/') {
        path.to_string()
    } else {
        let dir = base_path.rfind('/').map_or("/", |at| &base_path[..=at]);
        format!("{dir}{path}")
    };
    format!("{origin}{}{query}", remove_dot_segments(&merged))
}

/// Returns true if and only if `reference` starts with a scheme (`https:`): letters,
/// digits, `+`, `-` and `.` after a letter, then a colon, before any `/`, `?` or `#`.
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// An absolute path without its `.` and `..` segments (RFC 3986 section 5.2.4).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_join_as_rfc_3986_says() {
        for (base, location, joined) in [
            ("http://web/a/b", "?page=2", "http://web/a/b?page=2"),
            ("http://web/a/b?page=1", "?page=2", "http://web/a/b?page=2"),
            ("http://web", "?page=2", "http://web/?page=2"),
            ("http://web/a/b", "../c", "http://web/c"),
            ("http://web/a/b/c", "./d/../e", "http://web/a/b/e"),
            ("http://web/a/b", "..", "http://web/"),
            ("http://web/a/b", "/x/../y?z", "http://web/y?z"),
            (
                "http://web/a/b",
                "c?d=http://x/",
                "http://web/a/c?d=http://x/",
            ),
            ("http://web/a/b?q", "#top", "http://web/a/b?q"),
            ("http://web:8080/a", "//db:81/x", "http://db:81/x"),
            ("http://web/a", "https://web/a", "https://web/a"),
            (
                "http://web/a",
                "/go?to=http://db/",
                "http://web/go?to=http://db/",
            ),
        ] {
            assert_eq!(join(base, location), joined, "{base} + {location}");
        }
    }
}
