//! Request-level CSRF judgement.
//!
//! A cross-site request forgery is not in any single value: it is a
//! state-changing request that carries ambient credentials (cookies), comes
//! from another site, and lacks an anti-CSRF token. The score reads the
//! signals browsers send (`Sec-Fetch-Site`, `Origin`, `Referer`).

/// What the CSRF judgement needs to know about a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsrfContext {
    /// Method (upper case).
    pub method: String,
    /// True when the request carries cookies.
    pub has_cookies: bool,
    /// True when a CSRF token parameter or header is present.
    pub has_token: bool,
    /// Host header (without port), lower case.
    pub host: Option<String>,
    /// Host of the Origin header, lower case; `Some("null")` for an opaque origin.
    pub origin_host: Option<String>,
    /// Host of the Referer header, lower case.
    pub referer_host: Option<String>,
    /// `Sec-Fetch-Site` value, lower case.
    pub sec_fetch_site: Option<String>,
    /// True when the body is JSON (cross-site JSON needs a CORS preflight).
    pub json_body: bool,
}

/// The CSRF score in `[0, 1]` and the reason for it.
pub fn csrf_score(ctx: &CsrfContext) -> (f32, &'static str) {
    let state_changing = matches!(ctx.method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH");
    if !state_changing {
        return (0.0, "safe method");
    }
    if !ctx.has_cookies {
        return (0.02, "no ambient credentials");
    }
    if ctx.has_token {
        return (0.03, "anti-CSRF token present");
    }
    let (score, reason) = match (
        ctx.sec_fetch_site.as_deref(),
        ctx.origin_host.as_deref(),
        ctx.referer_host.as_deref(),
    ) {
        (Some("cross-site"), _, _) => (0.93, "Sec-Fetch-Site: cross-site"),
        (Some("same-site"), _, _) => (0.35, "Sec-Fetch-Site: same-site"),
        (Some("same-origin") | Some("none"), _, _) => (0.0, "same origin per Sec-Fetch-Site"),
        (_, Some("null"), _) => (0.88, "opaque Origin: null"),
        (_, Some(origin), _) if !same_site(origin, ctx.host.as_deref()) => {
            (0.92, "Origin names another site")
        }
        (_, Some(_), _) => (0.0, "same-origin Origin"),
        (_, None, Some(referer)) if !same_site(referer, ctx.host.as_deref()) => {
            (0.85, "Referer names another site")
        }
        (_, None, Some(_)) => (0.0, "same-origin Referer"),
        (_, None, None) => (0.3, "no Origin or Referer to check"),
    };
    if ctx.json_body && score > 0.5 {
        return (score * 0.6, "cross-site JSON (needs a CORS preflight)");
    }
    (score, reason)
}

/// True when `other` is the host itself or a subdomain-equal registrable
/// suffix of it (a cheap same-site check without a public-suffix list:
/// the last two labels must agree).
fn same_site(other: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    if other == host {
        return true;
    }
    let tail = |h: &str| -> String {
        let labels: Vec<&str> = h.rsplit('.').take(2).collect();
        labels.into_iter().rev().collect::<Vec<_>>().join(".")
    };
    tail(other) == tail(host) && other.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post() -> CsrfContext {
        CsrfContext {
            method: "POST".into(),
            has_cookies: true,
            host: Some("bank.example".into()),
            ..Default::default()
        }
    }

    #[test]
    fn cross_site_post_with_cookies_is_csrf() {
        let mut c = post();
        c.origin_host = Some("evil.example.net".into());
        assert!(csrf_score(&c).0 > 0.9);
        c.sec_fetch_site = Some("cross-site".into());
        assert!(csrf_score(&c).0 > 0.9);
    }

    #[test]
    fn safe_cases() {
        let mut c = post();
        c.origin_host = Some("bank.example".into());
        assert_eq!(csrf_score(&c).0, 0.0);
        c.origin_host = Some("evil.example.net".into());
        c.has_token = true;
        assert!(csrf_score(&c).0 < 0.1);
        let mut g = post();
        g.method = "GET".into();
        g.origin_host = Some("evil.example.net".into());
        assert_eq!(csrf_score(&g).0, 0.0);
        let mut s = post();
        s.referer_host = Some("www.bank.example".into());
        assert_eq!(csrf_score(&s).0, 0.0);
        // CSIC-style POST: cookie, no Origin/Referer: below the tag threshold.
        assert!(csrf_score(&post()).0 < 0.5);
    }
}
