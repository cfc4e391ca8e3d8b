//! Fetching small text files (checksum lists, directory indexes) over
//! http(s) or from `file://` URLs.

use std::path::PathBuf;
use std::time::Duration;

use crate::CloudError;

/// Connect, read and write timeout for every request.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Fetches text by URL.
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    agent: ureq::Agent,
}

impl Fetcher {
    pub(crate) fn new() -> Fetcher {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(TIMEOUT)
            .timeout_read(TIMEOUT)
            .timeout_write(TIMEOUT)
            .user_agent(concat!("kennel/", env!("CARGO_PKG_VERSION")))
            .build();
        Fetcher { agent }
    }

    /// The text at `url`.
    pub(crate) fn text(&self, url: &str) -> Result<String, CloudError> {
        if let Some(path) = file_path(url)? {
            return std::fs::read_to_string(&path).map_err(|source| CloudError::Io {
                action: "read",
                path,
                source,
            });
        }
        match self.agent.get(url).call() {
            Ok(response) => response
                .into_string()
                .map_err(|source| CloudError::HttpBody {
                    url: url.to_string(),
                    source,
                }),
            Err(ureq::Error::Status(status, _)) => Err(CloudError::HttpStatus {
                url: url.to_string(),
                status,
            }),
            Err(ureq::Error::Transport(t)) => Err(CloudError::Http {
                url: url.to_string(),
                source: Box::new(t),
            }),
        }
    }

    /// The links of the directory index at `dir_url` (which ends in `/`),
    /// resolved to absolute URLs. For `file://` directories, the entries of
    /// the directory.
    pub(crate) fn links(&self, dir_url: &str) -> Result<Vec<String>, CloudError> {
        if let Some(path) = file_path(dir_url)? {
            let io_err = |source| CloudError::Io {
                action: "list directory",
                path: path.clone(),
                source,
            };
            let mut links = Vec::new();
            for entry in std::fs::read_dir(&path).map_err(io_err)? {
                let entry = entry.map_err(io_err)?;
                if let Some(name) = entry.file_name().to_str() {
                    links.push(format!("{dir_url}{name}"));
                }
            }
            links.sort();
            return Ok(links);
        }
        let html = self.text(dir_url)?;
        Ok(hrefs(&html)
            .into_iter()
            .map(|href| join(dir_url, &href))
            .collect())
    }
}

/// For a `file://` URL, its local path; `None` for http(s); an error for
/// anything else.
fn file_path(url: &str) -> Result<Option<PathBuf>, CloudError> {
    let unsupported = || CloudError::UnsupportedUrl {
        url: url.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|_| unsupported())?;
    match parsed.scheme() {
        "http" | "https" => Ok(None),
        "file" => parsed.to_file_path().map(Some).map_err(|()| unsupported()),
        _ => Err(unsupported()),
    }
}

/// The `href` attribute values in an HTML page, with `&amp;` and friends decoded.
fn hrefs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("href") {
        let mut i = pos + found + 4;
        pos = i;
        let rest = &html[i..];
        let trimmed = rest.trim_start();
        let Some(after_eq) = trimmed.strip_prefix('=') else {
            continue;
        };
        let value_start = after_eq.trim_start();
        i += rest.len() - value_start.len();
        let value = match value_start.chars().next() {
            Some(q @ ('"' | '\'')) => value_start[1..].split(q).next(),
            Some(_) => value_start
                .split(|c: char| c.is_whitespace() || c == '>')
                .next(),
            None => None,
        };
        if let Some(value) = value {
            out.push(decode_entities(value));
            pos = i + value.len();
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Resolve `href` relative to the directory URL `dir_url` (ending in `/`).
fn join(dir_url: &str, href: &str) -> String {
    url::Url::parse(dir_url)
        .and_then(|base| base.join(href))
        .map(String::from)
        .unwrap_or_else(|_| href.to_string())
}

/// The last path segment of a URL, without query or fragment.
pub(crate) fn last_segment(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn href_extraction_and_joining() {
        let html = r#"<a href="?C=N;O=D">Name</a> <A HREF = 'a-CHECKSUM'>x</a> <a href=/pub/b.txt>b</a> <a href="c&amp;d">"#;
        assert_eq!(hrefs(html), ["?C=N;O=D", "a-CHECKSUM", "/pub/b.txt", "c&d"]);
        let dir = "http://h:1/pub/x/";
        assert_eq!(join(dir, "a-CHECKSUM"), "http://h:1/pub/x/a-CHECKSUM");
        assert_eq!(join(dir, "/pub/b.txt"), "http://h:1/pub/b.txt");
        assert_eq!(join(dir, "https://o/z"), "https://o/z");
        assert_eq!(last_segment("http://h/a/b-CHECKSUM?x=1"), "b-CHECKSUM");
    }

    #[test]
    fn file_urls() {
        assert_eq!(
            file_path("file:///srv/a%20b").ok().flatten(),
            Some(PathBuf::from("/srv/a b"))
        );
        assert_eq!(
            file_path("file://localhost/srv").ok().flatten(),
            Some(PathBuf::from("/srv"))
        );
        assert!(matches!(file_path("HTTPS://x/"), Ok(None)));
        assert!(matches!(
            file_path("ftp://x/"),
            Err(CloudError::UnsupportedUrl { .. })
        ));
        assert!(matches!(
            file_path("file://host/x"),
            Err(CloudError::UnsupportedUrl { .. })
        ));
    }
}
