//! The staff desk on the web, served by `pandu serve` under `/staff`: sign-in, the inbox of cases, a
//! case page (timeline, masked personal data, reply, status and referral, assignment, notes), the
//! overview, the messages Pandu did not understand, a CSV export and the audit log.
//!
//! - [`accounts`]: accounts, argon2id passwords, server-side sessions, lockout, audit log;
//! - [`inbox`]: the case list (overdue first), filters, counts;
//! - [`pages`]: the handlers and their askama templates (`templates/desk/`).
//!
//! Every change a staff member makes here goes through [`crate::cases::Desk`], the same code as
//! `pandu cases` and the Telegram staff group, with the actor `web:<account>`.
//!
//! Invariants:
//! - No route under [`PROTECTED`] answers without a live session: the guard layer wraps the whole
//!   protected router (a GET without a session is sent to the sign-in page, anything else gets 401),
//!   so a route added there cannot forget it; a test walks every route.
//! - Every request that is not GET or HEAD carries the session's CSRF token in its form (checked in
//!   the same layer, constant time) or gets 403. The sign-in form has its own token (a cookie and a
//!   form field that must match).
//! - Every answer carries the security headers: a CSP without inline script or outside loads, no
//!   framing, no sniffing, no referrer, no caching.
//! - A viewer changes nothing and never sees personal data; an officer sees it only after choosing to
//!   (recorded in the case timeline and the audit log).
//! - Interface words live in `templates/desk/` and `dialogs/_cases.yaml`, never in this code.

pub mod accounts;
pub mod command;
pub mod inbox;
pub mod offers;
pub mod pages;
#[doc(hidden)]
pub mod seed;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

pub use accounts::{Accounts, Role};

use crate::cases::{CaseTexts, Desk};
use crate::config::Config;
use crate::engine::Engine;

/// The session cookie.
pub const COOKIE: &str = "pandu_desk";
/// The sign-in form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "pandu_login";

/// Every route that needs a session, as (method, example path): the router test walks them all.
pub const PROTECTED: &[(&str, &str)] = &[
    ("GET", "/staff"),
    ("GET", "/staff/case/PKL-AAAAAA"),
    ("GET", "/staff/case/PKL-AAAAAA/file/0"),
    ("POST", "/staff/case/PKL-AAAAAA/reveal"),
    ("POST", "/staff/case/PKL-AAAAAA/reply"),
    ("POST", "/staff/case/PKL-AAAAAA/status"),
    ("POST", "/staff/case/PKL-AAAAAA/note"),
    ("POST", "/staff/case/PKL-AAAAAA/assign"),
    ("GET", "/staff/export.csv"),
    ("GET", "/staff/overview"),
    ("GET", "/staff/questions"),
    ("GET", "/staff/offers"),
    ("GET", "/staff/audit"),
    ("GET", "/staff/password"),
    ("POST", "/staff/password"),
    ("POST", "/staff/logout"),
];

/// The only routes an account that must change its password may use.
const WHILE_MUST_CHANGE: [&str; 2] = ["/staff/password", "/staff/logout"];

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct DeskState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    engine: Engine,
    desk: Desk,
    texts: Arc<CaseTexts>,
    accounts: Accounts,
    rows: inbox::RowCache,
    /// Sign-in attempts per address in the current minute.
    attempts: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("cases: {0}")]
    Cases(#[from] crate::cases::CaseError),
    #[error("accounts: {0}")]
    Accounts(#[from] accounts::AccountError),
}

impl DeskState {
    pub async fn new(engine: Engine, config: &Config) -> Result<DeskState, DeskError> {
        let desk = Desk::new(engine.clone(), config)?;
        let accounts = Accounts::open(engine.store(), &config.desk).await?;
        Ok(DeskState {
            inner: Arc::new(Inner {
                config: config.clone(),
                texts: Arc::new(CaseTexts::load(config)?),
                rows: inbox::RowCache::new(engine.store()),
                engine,
                desk,
                accounts,
                attempts: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// Whether `ip` may try one more sign-in this minute.
    fn allow_attempt(&self, ip: IpAddr) -> bool {
        let minute = accounts::now() / 60;
        let limit = self.inner.config.desk.attempts_per_minute;
        let Ok(mut map) = self.inner.attempts.lock() else {
            return false;
        };
        if map.len() > 10_000 {
            map.retain(|_, (m, _)| *m == minute);
        }
        let slot = map.entry(ip).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += 1;
        slot.1 <= limit
    }
}

/// The signed-in staff member of a request (put there by the guard).
#[derive(Clone, Debug)]
pub struct Staff {
    pub token: String,
    pub session: accounts::WebSession,
}

impl Staff {
    pub fn name(&self) -> &str {
        &self.session.account
    }
    pub fn role(&self) -> Role {
        self.session.role
    }
    /// The actor written into case timelines.
    pub fn actor(&self) -> String {
        format!("web:{}", self.session.account)
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether cookies must be `Secure`: always, unless the browser is on this machine talking plain
/// HTTP to a loopback address (nothing travels on a network), or `desk.allow_plain_http` is set.
pub fn secure_cookies(config: &Config, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    let proxied = [
        "x-forwarded-for",
        "x-forwarded-proto",
        "forwarded",
        "x-real-ip",
    ]
    .iter()
    .any(|h| headers.contains_key(*h));
    let local = peer.is_some_and(|p| p.ip().is_loopback()) && !proxied;
    !(local || config.desk.allow_plain_http)
}

pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/staff; HttpOnly; SameSite=Strict");
    if secure {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("x=; Path=/staff"))
}

/// The CSRF token in an `application/x-www-form-urlencoded` body (our tokens are hex: no decoding).
fn form_token(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "csrf")
        .map(|(_, v)| v)
}

/// Largest form body the desk reads (a long reply fits many times over).
const MAX_FORM: usize = 256 * 1024;

/// The session guard and CSRF check of every protected route.
async fn guard(State(state): State<DeskState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let safe = method == Method::GET || method == Method::HEAD;
    let token = cookie(request.headers(), COOKIE).unwrap_or("").to_string();
    let session = match state.inner.accounts.session(&token) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "desk session lookup failed");
            return pages::failure(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let Some(session) = session else {
        return if safe {
            Redirect::to("/staff/login").into_response()
        } else {
            pages::failure(StatusCode::UNAUTHORIZED)
        };
    };
    // A one-time password opens only the page that replaces it.
    if session.must_change && !WHILE_MUST_CHANGE.contains(&request.uri().path()) {
        return if safe {
            Redirect::to("/staff/password").into_response()
        } else {
            pages::failure(StatusCode::FORBIDDEN)
        };
    }
    let (parts, body) = request.into_parts();
    let mut request = if safe {
        Request::from_parts(parts, body)
    } else {
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            return pages::failure(StatusCode::PAYLOAD_TOO_LARGE);
        };
        let presented = form_token(&bytes).unwrap_or("");
        if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(session.csrf.as_bytes()))
        {
            tracing::warn!("desk request without a valid CSRF token refused");
            return pages::failure(StatusCode::FORBIDDEN);
        }
        Request::from_parts(parts, Body::from(bytes))
    };
    request.extensions_mut().insert(Staff { token, session });
    next.run(request).await
}

/// The headers of every desk answer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The peer address, when the server was started with connect info (`None` in router tests).
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Peer, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| *a),
        ))
    }
}

/// `/staff...`: mount with `Router::merge`, served with `into_make_service_with_connect_info`.
pub fn router(state: DeskState) -> Router {
    let protected = Router::new()
        .route("/staff", get(pages::inbox))
        .route("/staff/case/{code}", get(pages::case_page))
        .route("/staff/case/{code}/file/{n}", get(pages::attachment))
        .route("/staff/case/{code}/reveal", post(pages::reveal))
        .route("/staff/case/{code}/reply", post(pages::reply))
        .route("/staff/case/{code}/status", post(pages::status))
        .route("/staff/case/{code}/note", post(pages::note))
        .route("/staff/case/{code}/assign", post(pages::assign))
        .route("/staff/export.csv", get(pages::export_csv))
        .route("/staff/overview", get(pages::overview))
        .route("/staff/questions", get(pages::questions))
        .route("/staff/offers", get(offers::offers_page))
        .route("/staff/audit", get(pages::audit))
        .route(
            "/staff/password",
            get(pages::password_page).post(pages::change_password),
        )
        .route("/staff/logout", post(pages::logout))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/staff/login", get(pages::login_page).post(pages::login))
        .route("/staff/static/desk.css", get(pages::stylesheet))
        .merge(protected)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Builds the desk for `pandu serve`, and says where it is and how to get in.
pub async fn start(
    engine: Engine,
    config: &Config,
    bound: &str,
    mut shutdown: crate::channels::Shutdown,
) -> Option<Router> {
    if !config.desk.enabled {
        return None;
    }
    match DeskState::new(engine, config).await {
        Ok(state) => {
            let url = desk_url(bound);
            // A fresh data folder started by a person at a terminal: a first admin with a one-time
            // password, printed on that terminal (stdout; the log is stderr) and nowhere else.
            let mut out = std::io::stdout();
            let terminal = std::io::IsTerminal::is_terminal(&out);
            let mut note = std::io::stderr();
            if let Err(e) = announce(state.accounts(), &url, terminal, &mut note, &mut out).await {
                tracing::warn!(error = %e, "desk startup note failed");
            }
            let sweeper = state.accounts().clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = shutdown.wait_for(|s| *s) => return,
                    }
                    if let Err(e) = sweeper.sweep() {
                        tracing::warn!(error = %e, "desk session sweep failed");
                    }
                }
            });
            Some(router(state))
        }
        Err(e) => {
            tracing::error!(error = %e, "staff desk off");
            None
        }
    }
}

/// Says where the desk is and how to get in, on `note` (stderr, beside the log). With no account
/// at all and `terminal` (a person reads `secret`, stdout), creates the first admin with a one-time
/// password and writes it to `secret` only, once: the next start finds the account. Without a
/// terminal (a service whose output goes to a log), no account is created and the note says how to
/// create one.
pub async fn announce(
    accounts: &Accounts,
    url: &str,
    terminal: bool,
    note: &mut impl std::io::Write,
    secret: &mut impl std::io::Write,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let first = if terminal {
        accounts.first_admin().await?
    } else {
        None
    };
    let has_accounts = accounts.any_active()?;
    writeln!(
        note,
        "{}",
        pages::startup_note(url, has_accounts, first.is_some())?
    )?;
    note.flush()?;
    if let Some((name, password)) = first {
        writeln!(secret, "{}", pages::first_admin_note(&name, &password)?)?;
        secret.flush()?;
    }
    Ok(())
}

/// The desk's address for people: a wildcard listen address becomes loopback.
pub fn desk_url(bound: &str) -> String {
    match bound.parse::<SocketAddr>() {
        Ok(mut a) => {
            if a.ip().is_unspecified() {
                a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{a}/staff")
        }
        Err(_) => format!("http://{bound}/staff"),
    }
}

#[cfg(test)]
mod tests;
