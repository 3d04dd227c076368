//! The desk's handlers and the data their templates (`templates/desk/*.html`) show.
//!
//! Handlers pass machine words (`new`, `P1`, `reply`) and data; every word a person reads is in the
//! templates or in `dialogs/_cases.yaml` (confirmations and failures of staff actions come from
//! [`crate::cases::Desk`], the same texts as `pandu cases` and the Telegram staff group).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::accounts::{AuditEntry, Flash, SignIn};
use super::inbox::{self, Filter, Row};
use super::{COOKIE, DeskState, LOGIN_COOKIE, Role, Staff, cookie, secure_cookies, set_cookie};
use crate::cases::texts::fill;
use crate::cases::{Case, CaseError, EventKind, Priority, Referral, Status};
use crate::dialog::Lang;
use crate::storage::Channel;
use crate::time::Date;

/// `2026-11-30 18:05` in Western Indonesian Time (UTC+7); the templates say "WIB".
pub fn wib(secs: u64) -> String {
    let s = secs.saturating_add(7 * 3600);
    format!(
        "{} {:02}:{:02}",
        Date::from_unix(s),
        (s % 86_400) / 3600,
        (s % 3600) / 60
    )
}

/// How long ago, in the staff texts' words (`3 jam`).
fn age(state: &DeskState, now: u64, since: u64) -> String {
    let t = &state.inner.texts.staff;
    let secs = now.saturating_sub(since);
    let (template, n) = if secs < 3600 {
        (&t.age_minutes, secs / 60)
    } else if secs < 2 * 86_400 {
        (&t.age_hours, secs / 3600)
    } else {
        (&t.age_days, secs / 86_400)
    };
    fill(template, &[("n", &n.to_string())])
}

/// The signed-in person, for the page frame.
pub struct Me {
    pub name: String,
    pub role: &'static str,
    pub csrf: String,
    pub can_act: bool,
    pub admin: bool,
}

/// What every page around its content shows.
pub struct Frame {
    pub me: Option<Me>,
    pub flash: Option<Flash>,
    /// The menu entry to highlight.
    pub here: &'static str,
}

impl Frame {
    pub(super) fn of(staff: &Staff, flash: Option<Flash>, here: &'static str) -> Frame {
        Frame {
            me: Some(Me {
                name: staff.name().to_string(),
                role: staff.role().as_str(),
                csrf: staff.session.csrf.clone(),
                can_act: staff.role().can_act(),
                admin: staff.role().is_admin(),
            }),
            flash,
            here,
        }
    }
}

pub(super) fn html<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "desk template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "500").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "desk/error.html")]
struct ErrorPage {
    frame: Frame,
    code: u16,
}

/// A page that says why the request was refused (401, 403, 404, ...).
pub fn failure(status: StatusCode) -> Response {
    html(
        status,
        &ErrorPage {
            frame: Frame {
                me: None,
                flash: None,
                here: "",
            },
            code: status.as_u16(),
        },
    )
}

pub(super) fn technical(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "desk request failed");
    failure(StatusCode::INTERNAL_SERVER_ERROR)
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../../templates/desk/desk.css"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "desk/startup.txt")]
struct StartupNote<'a> {
    url: &'a str,
    has_accounts: bool,
    /// A first admin with a one-time password was just created (shown on the terminal).
    first_admin: bool,
}

/// What `pandu serve` prints about the desk: its address, and how to create the first account.
pub fn startup_note(
    url: &str,
    has_accounts: bool,
    first_admin: bool,
) -> Result<String, askama::Error> {
    StartupNote {
        url,
        has_accounts,
        first_admin,
    }
    .render()
}

#[derive(Template)]
#[template(path = "desk/first_admin.txt")]
struct FirstAdminNote<'a> {
    name: &'a str,
    password: &'a str,
}

/// The first admin's one-time password, for the terminal only.
pub fn first_admin_note(name: &str, password: &str) -> Result<String, askama::Error> {
    FirstAdminNote { name, password }.render()
}

#[derive(Template)]
#[template(path = "desk/cli.txt")]
struct CliAnswer<'a> {
    kind: &'a str,
    name: &'a str,
    role: &'a str,
    password: &'a str,
    detail: &'a str,
}

/// The answer of `pandu staff ...` (`kind`: `added`, `reset`, `disabled`, `list`, or an error kind of
/// [`super::accounts::AccountError::kind`]).
pub fn cli_answer(kind: &str, name: &str, role: &str, password: &str, detail: &str) -> String {
    CliAnswer {
        kind,
        name,
        role,
        password,
        detail,
    }
    .render()
    .unwrap_or_else(|e| format!("{kind}: {e}"))
}

// ---------------------------------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "desk/login.html")]
struct LoginPage {
    frame: Frame,
    csrf: String,
    /// `""`, `wrong`, `locked`, `limit`, `csrf`.
    problem: &'static str,
    locked_until: String,
    name: String,
}

fn login_form(
    state: &DeskState,
    peer: Option<std::net::SocketAddr>,
    headers: &HeaderMap,
    status: StatusCode,
    problem: &'static str,
    locked_until: String,
    name: String,
) -> Response {
    // The form token stays the same while the browser keeps its cookie: a page loaded twice (a
    // reload, a second tab) must not leave the visible form with a token the cookie no longer has.
    let csrf = cookie(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .unwrap_or_else(super::accounts::random_token);
    let secure = secure_cookies(&state.inner.config, peer, headers);
    let mut response = html(
        status,
        &LoginPage {
            frame: Frame {
                me: None,
                flash: None,
                here: "",
            },
            csrf: csrf.clone(),
            problem,
            locked_until,
            name,
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &csrf, secure, Some(3600)),
    );
    response
}

pub async fn login_page(
    State(state): State<DeskState>,
    super::Peer(peer): super::Peer,
    headers: HeaderMap,
) -> Response {
    let token = cookie(&headers, COOKIE).unwrap_or("");
    if let Ok(Some(_)) = state.inner.accounts.session(token) {
        return Redirect::to("/staff").into_response();
    }
    login_form(
        &state,
        peer,
        &headers,
        StatusCode::OK,
        "",
        String::new(),
        String::new(),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(
    State(state): State<DeskState>,
    super::Peer(peer): super::Peer,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    use subtle::ConstantTimeEq;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if form.csrf.is_empty() || !bool::from(form.csrf.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!("desk sign-in without a valid form token refused");
        return login_form(
            &state,
            peer,
            &headers,
            StatusCode::FORBIDDEN,
            "csrf",
            String::new(),
            String::new(),
        );
    }
    let ip = peer.map(|p| p.ip()).unwrap_or([0, 0, 0, 0].into());
    if !state.allow_attempt(ip) {
        tracing::warn!("desk sign-in rate limit reached");
        return login_form(
            &state,
            peer,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            "limit",
            String::new(),
            form.name,
        );
    }
    match state
        .inner
        .accounts
        .sign_in(&form.name, &form.password)
        .await
    {
        Ok(SignIn::Ok { token, .. }) => {
            let secure = secure_cookies(&state.inner.config, peer, &headers);
            let mut response = Redirect::to("/staff").into_response();
            let h = response.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(COOKIE, &token, secure, None));
            h.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", secure, Some(0)),
            );
            response
        }
        Ok(SignIn::Wrong) => login_form(
            &state,
            peer,
            &headers,
            StatusCode::UNAUTHORIZED,
            "wrong",
            String::new(),
            form.name,
        ),
        Ok(SignIn::Locked(until)) => login_form(
            &state,
            peer,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            "locked",
            wib(until),
            form.name,
        ),
        Err(e) => technical(e),
    }
}

pub async fn logout(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    super::Peer(peer): super::Peer,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = state
        .inner
        .accounts
        .sign_out(&staff.token, staff.name())
        .await
    {
        return technical(e);
    }
    let secure = secure_cookies(&state.inner.config, peer, &headers);
    let mut response = Redirect::to("/staff/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(COOKIE, "", secure, Some(0)));
    response
}

// --------------------------------------------------------------------------------------- password

#[derive(Template)]
#[template(path = "desk/password.html")]
struct PasswordPage {
    frame: Frame,
    must_change: bool,
    /// `""`, `wrong` (current password), `short`, `differ` (the two new ones), `same`.
    problem: &'static str,
    min: usize,
}

/// The shortest password staff may choose.
const MIN_PASSWORD: usize = 12;

pub async fn password_page(Extension(staff): Extension<Staff>) -> Response {
    password_form(&staff, StatusCode::OK, "")
}

fn password_form(staff: &Staff, status: StatusCode, problem: &'static str) -> Response {
    let mut frame = Frame::of(staff, None, "password");
    if staff.session.must_change {
        // Nothing else opens until the password is changed: no menu to offer.
        if let Some(me) = frame.me.as_mut() {
            me.can_act = false;
            me.admin = false;
        }
    }
    html(
        status,
        &PasswordPage {
            frame,
            must_change: staff.session.must_change,
            problem,
            min: MIN_PASSWORD,
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

pub async fn change_password(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let problem = if form.new.chars().count() < MIN_PASSWORD {
        "short"
    } else if form.new != form.repeat {
        "differ"
    } else if form.new == form.current {
        "same"
    } else {
        ""
    };
    if !problem.is_empty() {
        return password_form(&staff, StatusCode::UNPROCESSABLE_ENTITY, problem);
    }
    match state
        .inner
        .accounts
        .change_password(staff.name(), &form.current, &form.new)
        .await
    {
        Ok(true) => {
            let mut session = staff.session.clone();
            session.must_change = false;
            if let Err(e) = state.inner.accounts.save_session(&staff.token, &session) {
                return technical(e);
            }
            Redirect::to("/staff").into_response()
        }
        Ok(false) => password_form(&staff, StatusCode::UNPROCESSABLE_ENTITY, "wrong"),
        Err(e) => technical(e),
    }
}

// ------------------------------------------------------------------------------------------ inbox

/// One line of the inbox, ready to show.
pub struct RowView {
    pub code: String,
    pub priority: &'static str,
    pub status: &'static str,
    pub referral: String,
    pub overdue: bool,
    pub category: String,
    pub country: String,
    pub channel: &'static str,
    pub age: String,
    pub due: String,
    pub answered: bool,
    pub assignee: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Count {
    pub status: &'static str,
    pub n: usize,
}

#[derive(Template)]
#[template(path = "desk/inbox.html")]
struct InboxPage {
    frame: Frame,
    rows: Vec<RowView>,
    counts: Vec<Count>,
    overdue: usize,
    matching: usize,
    page: usize,
    pages: usize,
    filter: Filter,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    categories: Vec<Choice>,
    countries: Vec<Choice>,
    assignees: Vec<Choice>,
    prev: String,
    next: String,
    export: String,
}

fn category_label(state: &DeskState, key: &str) -> String {
    state
        .inner
        .texts
        .category(key)
        .map(|c| c.label.get(Lang::Id).to_string())
        .unwrap_or_else(|| key.to_string())
}

fn query_string(filter: &Filter, page: usize) -> String {
    let mut q = String::new();
    for (k, v) in [
        ("status", &filter.status),
        ("priority", &filter.priority),
        ("category", &filter.category),
        ("country", &filter.country),
        ("assignee", &filter.assignee),
        ("age", &filter.age),
        ("q", &filter.q),
    ] {
        if !v.is_empty() {
            let _ = write!(q, "{k}={}&", encode(v));
        }
    }
    let _ = write!(q, "page={page}");
    q
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn rows_of(state: &DeskState) -> Result<std::sync::Arc<Vec<Row>>, CaseError> {
    state
        .inner
        .rows
        .rows(state.inner.engine.store(), &state.inner.config)
}

/// Takes the flash of the session (shown once).
fn take_flash(state: &DeskState, staff: &Staff) -> Option<Flash> {
    let flash = staff.session.flash.clone()?;
    let mut session = staff.session.clone();
    session.flash = None;
    if let Err(e) = state.inner.accounts.save_session(&staff.token, &session) {
        tracing::warn!(error = %e, "desk flash not cleared");
    }
    Some(flash)
}

pub async fn inbox(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Query(filter): Query<Filter>,
) -> Response {
    // A whole code typed in the search box opens its case.
    if !filter.q.trim().is_empty()
        && let Some(code) =
            crate::cases::code::exact(&state.inner.config.cases.code_prefix, &filter.q)
        && matches!(state.inner.engine.store().case_record(&code), Ok(Some(_)))
    {
        return Redirect::to(&format!("/staff/case/{code}")).into_response();
    }
    let rows = match rows_of(&state) {
        Ok(r) => r,
        Err(e) => return technical(e),
    };
    let now = crate::time::now_secs();
    let listing = inbox::list(&rows, &filter, now, state.inner.config.desk.page_size);
    let choices = |values: &[String], selected: &str, label: &dyn Fn(&str) -> String| {
        values
            .iter()
            .map(|v| Choice {
                value: v.clone(),
                label: label(v),
                selected: v == selected,
            })
            .collect::<Vec<_>>()
    };
    let views = listing
        .rows
        .iter()
        .map(|r| RowView {
            code: r.code.clone(),
            priority: r.priority.as_str(),
            status: r.status.as_str(),
            referral: r
                .referred_to
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            overdue: r.overdue(now),
            category: category_label(&state, &r.category),
            country: r.country.clone(),
            channel: r.channel.as_str(),
            age: age(&state, now, r.opened_at),
            due: wib(r.due_at),
            answered: r.first_reply_at.is_some(),
            assignee: r.assignee.clone().unwrap_or_default(),
        })
        .collect();
    let page = InboxPage {
        frame: Frame::of(&staff, take_flash(&state, &staff), "inbox"),
        rows: views,
        counts: listing
            .counts
            .iter()
            .map(|(s, n)| Count {
                status: s.as_str(),
                n: *n,
            })
            .collect(),
        overdue: listing.overdue,
        matching: listing.matching,
        page: listing.page,
        pages: listing.pages,
        statuses: Status::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_string(),
                label: String::new(),
                selected: filter.status == s.as_str(),
            })
            .collect(),
        priorities: ["P1", "P2", "P3", "P4"]
            .iter()
            .map(|p| Choice {
                value: (*p).to_string(),
                label: String::new(),
                selected: filter.priority.eq_ignore_ascii_case(p),
            })
            .collect(),
        categories: choices(&listing.categories, &filter.category, &|k| {
            category_label(&state, k)
        }),
        countries: choices(&listing.countries, &filter.country, &|k| k.to_string()),
        assignees: choices(&listing.assignees, &filter.assignee, &|k| k.to_string()),
        prev: if listing.page > 1 {
            format!("/staff?{}", query_string(&filter, listing.page - 1))
        } else {
            String::new()
        },
        next: if listing.page < listing.pages {
            format!("/staff?{}", query_string(&filter, listing.page + 1))
        } else {
            String::new()
        },
        export: format!("/staff/export.csv?{}", query_string(&filter, 1)),
        filter,
    };
    html(StatusCode::OK, &page)
}

// -------------------------------------------------------------------------------------- case page

pub struct FieldView {
    pub name: String,
    /// `None` while masked.
    pub value: Option<String>,
}

pub struct EventView {
    pub at: String,
    pub actor: String,
    /// `None` while masked (a reporter's own words).
    pub text: Option<String>,
    /// `in` (from the reporter), `out` (to the reporter), `note`, `system`.
    pub side: &'static str,
}

pub struct AttachmentView {
    pub n: usize,
    pub kind: String,
    pub stored: bool,
}

pub struct Window {
    pub open: bool,
    pub until: String,
}

#[derive(Template)]
#[template(path = "desk/case.html")]
struct CasePage {
    frame: Frame,
    code: String,
    priority: &'static str,
    status: &'static str,
    referral: String,
    category: String,
    country: String,
    channel: &'static str,
    lang: &'static str,
    opened: String,
    target_hours: u32,
    due: String,
    overdue: bool,
    consent: bool,
    revealed: bool,
    reporter: Option<String>,
    fields: Vec<FieldView>,
    attachments: Vec<AttachmentView>,
    timeline: Vec<EventView>,
    next_statuses: Vec<&'static str>,
    referrals: Vec<Choice>,
    assignee: String,
    accounts: Vec<Choice>,
    window: Option<Window>,
}

fn attachments_of(case: &Case) -> Vec<crate::dialog::Attachment> {
    let mut all = case.record.attachments.clone();
    for e in &case.timeline {
        if let EventKind::ReporterMessage { attachments, .. } = &e.kind {
            all.extend(attachments.iter().cloned());
        }
    }
    all
}

fn kind_name(kind: crate::dialog::AttachmentKind) -> &'static str {
    use crate::dialog::AttachmentKind as K;
    match kind {
        K::Photo => "photo",
        K::Voice => "voice",
        K::Audio => "audio",
        K::Video => "video",
        K::Document => "document",
    }
}

/// Where an attachment's file is, if it was downloaded.
fn stored_file(
    state: &DeskState,
    case: &Case,
    a: &crate::dialog::Attachment,
) -> Option<std::path::PathBuf> {
    let data = &state.inner.config.data_dir;
    let path = match &a.stored_path {
        Some(p) => std::path::PathBuf::from(p),
        None => match case.record.reporter.channel {
            Channel::Whatsapp => {
                crate::channels::whatsapp::media_path(state.inner.engine.store(), &a.reference)?
            }
            Channel::Telegram => {
                let bytes = state
                    .inner
                    .engine
                    .store()
                    .meta(&format!("telegram.file.{}", a.reference))
                    .ok()??;
                std::path::PathBuf::from(String::from_utf8(bytes).ok()?)
            }
            Channel::Console => return None,
        },
    };
    let full = if path.is_absolute() {
        path
    } else {
        data.join(path)
    };
    full.is_file().then_some(full)
}

fn find_case(state: &DeskState, typed: &str) -> Result<Option<Case>, CaseError> {
    match state.inner.desk.find(typed) {
        Ok(c) => Ok(Some(c)),
        Err(CaseError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn case_page(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
) -> Response {
    let case = match find_case(&state, &code) {
        Ok(Some(c)) => c,
        Ok(None) => return failure(StatusCode::NOT_FOUND),
        Err(e) => return technical(e),
    };
    let now = crate::time::now_secs();
    let revealed = staff.role().can_act() && staff.session.has_revealed(case.code(), now);
    if let Err(e) = state
        .inner
        .accounts
        .audit(staff.name(), "view_case", case.code())
    {
        return technical(e);
    }
    let config = &state.inner.config;
    let texts = &state.inner.texts;
    let r = &case.record;
    let personal = |name: &str| config.desk.personal_fields.iter().any(|f| f == name);
    let mut fields = Vec::new();
    let mut names: Vec<&String> = texts
        .intake_fields
        .iter()
        .filter(|n| r.fields.contains_key(*n))
        .collect();
    names.extend(r.fields.keys().filter(|k| !texts.intake_fields.contains(k)));
    for name in names {
        // The words the reporter saw, as in `pandu cases show` (`staff.field_names`, menu labels).
        let value = r.fields.get(name).map(String::as_str).unwrap_or_default();
        fields.push(FieldView {
            name: texts.field_name(name).to_string(),
            value: (revealed || !personal(name))
                .then(|| texts.field_words(name, value).to_string()),
        });
    }
    let timeline = case
        .timeline
        .iter()
        .map(|e| {
            let side = match &e.kind {
                EventKind::ReporterMessage { .. } => "in",
                EventKind::StaffReply { .. } => "out",
                EventKind::Note { .. } => "note",
                _ => "system",
            };
            let masked = side == "in" && !revealed;
            EventView {
                at: wib(e.at),
                actor: e.actor.clone(),
                text: (!masked).then(|| state.inner.desk.describe(&e.kind)),
                side,
            }
        })
        .collect();
    let attachments = attachments_of(&case)
        .iter()
        .enumerate()
        .map(|(n, a)| AttachmentView {
            n,
            kind: texts.attachment_kind(kind_name(a.kind)).to_string(),
            stored: stored_file(&state, &case, a).is_some(),
        })
        .collect();
    let window = (r.reporter.channel == Channel::Whatsapp).then(|| {
        let last = state
            .inner
            .engine
            .store()
            .meta(&crate::channels::whatsapp::last_inbound_key(&r.reporter.id))
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        // The sender keeps a 10-minute margin before the 24 hours end.
        let until = last.saturating_add(24 * 3600 - 600);
        Window {
            open: now < until,
            until: wib(until),
        }
    });
    let assignee = case.assignee().unwrap_or("").to_string();
    let accounts = state
        .inner
        .accounts
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !a.disabled && a.role.can_act())
        .map(|a| Choice {
            selected: a.name == assignee,
            label: a.name.clone(),
            value: a.name,
        })
        .collect();
    let referrals = Referral::ALL
        .into_iter()
        .map(|x| Choice {
            value: x.as_str().to_string(),
            label: texts
                .referral
                .get(x.as_str())
                .map(|l| l.get(Lang::Id).to_string())
                .unwrap_or_else(|| x.as_str().to_string()),
            selected: case.referred_to == Some(x),
        })
        .collect();
    let page = CasePage {
        frame: Frame::of(&staff, take_flash(&state, &staff), "inbox"),
        code: r.code.clone(),
        priority: case.priority.as_str(),
        status: case.status.as_str(),
        referral: case
            .referred_to
            .and_then(|x| texts.referral.get(x.as_str()))
            .map(|l| l.get(Lang::Id).to_string())
            .unwrap_or_default(),
        category: category_label(&state, &r.category),
        country: r.country.clone(),
        channel: r.reporter.channel.as_str(),
        lang: r.lang.code(),
        opened: wib(r.opened_at),
        target_hours: case.priority.target_hours(config),
        due: wib(Row::from_case(&case, config).due_at),
        overdue: Row::from_case(&case, config).overdue(now),
        consent: r.share_consent,
        revealed,
        reporter: revealed.then(|| r.reporter.id.clone()),
        fields,
        attachments,
        timeline,
        next_statuses: Status::ALL
            .into_iter()
            .filter(|s| case.status.can_move_to(*s))
            .map(Status::as_str)
            .collect(),
        referrals,
        assignee,
        accounts,
        window,
    };
    if let Err(e) = state.inner.accounts.flush().await {
        return technical(e);
    }
    html(StatusCode::OK, &page)
}

/// Refuses a viewer (403) and records the attempt.
fn officer_only(state: &DeskState, staff: &Staff, action: &str, code: &str) -> Option<Response> {
    if staff.role().can_act() {
        return None;
    }
    let _ = state
        .inner
        .accounts
        .audit(staff.name(), &format!("refused_{action}"), code);
    tracing::warn!(
        role = staff.role().as_str(),
        action,
        "desk action refused to a viewer"
    );
    Some(failure(StatusCode::FORBIDDEN))
}

/// After an action: audit, flash its confirmation or failure, back to the case.
async fn finish(
    state: &DeskState,
    staff: &Staff,
    code: &str,
    action: &str,
    result: Result<String, CaseError>,
) -> Response {
    state.inner.rows.touch();
    let flash = match &result {
        Ok(text) => Flash {
            ok: true,
            text: text.clone(),
        },
        Err(e) => Flash {
            ok: false,
            text: state.inner.desk.failure(e),
        },
    };
    let canonical = crate::cases::code::exact(&state.inner.config.cases.code_prefix, code);
    let Some(canonical) = canonical else {
        return failure(StatusCode::NOT_FOUND);
    };
    if result.is_ok()
        && let Err(e) = state.inner.accounts.audit(staff.name(), action, &canonical)
    {
        return technical(e);
    }
    let mut session = staff.session.clone();
    session.flash = Some(flash);
    if let Err(e) = state.inner.accounts.save_session(&staff.token, &session) {
        return technical(e);
    }
    if let Err(e) = state.inner.accounts.flush().await {
        return technical(e);
    }
    Redirect::to(&format!("/staff/case/{canonical}")).into_response()
}

#[derive(Deserialize)]
pub struct TextForm {
    #[serde(default)]
    text: String,
}

pub async fn reveal(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
) -> Response {
    if let Some(refused) = officer_only(&state, &staff, "reveal", &code) {
        return refused;
    }
    let case = match find_case(&state, &code) {
        Ok(Some(c)) => c,
        Ok(None) => return failure(StatusCode::NOT_FOUND),
        Err(e) => return technical(e),
    };
    if let Err(e) = state
        .inner
        .desk
        .record_access(&staff.actor(), case.code(), "web")
        .await
    {
        return technical(e);
    }
    let now = crate::time::now_secs();
    let until = now + u64::from(state.inner.config.desk.reveal_minutes) * 60;
    let mut session = staff.session.clone();
    session
        .revealed
        .retain(|(c, u)| c != case.code() && *u > now);
    session.revealed.push((case.code().to_string(), until));
    if let Err(e) = state.inner.accounts.save_session(&staff.token, &session) {
        return technical(e);
    }
    let staff = Staff {
        token: staff.token.clone(),
        session,
    };
    if let Err(e) = state
        .inner
        .accounts
        .audit(staff.name(), "reveal", case.code())
    {
        return technical(e);
    }
    if let Err(e) = state.inner.accounts.flush().await {
        return technical(e);
    }
    state.inner.rows.touch();
    let _ = &staff;
    Redirect::to(&format!("/staff/case/{}", case.code())).into_response()
}

pub async fn reply(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
    Form(form): Form<TextForm>,
) -> Response {
    if let Some(refused) = officer_only(&state, &staff, "reply", &code) {
        return refused;
    }
    let result = state
        .inner
        .desk
        .reply(&staff.actor(), &code, &form.text)
        .await;
    finish(&state, &staff, &code, "reply", result).await
}

pub async fn note(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
    Form(form): Form<TextForm>,
) -> Response {
    if let Some(refused) = officer_only(&state, &staff, "note", &code) {
        return refused;
    }
    let result = state
        .inner
        .desk
        .note(&staff.actor(), &code, &form.text)
        .await;
    finish(&state, &staff, &code, "note", result).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    note: String,
}

pub async fn status(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    if let Some(refused) = officer_only(&state, &staff, "status", &code) {
        return refused;
    }
    let desk = &state.inner.desk;
    let result = async {
        let status = Status::parse(&form.status)?;
        let to = if status == Status::Referred && !form.to.trim().is_empty() {
            Some(Referral::parse(&form.to)?)
        } else {
            None
        };
        desk.set_status_in_words(&staff.actor(), &code, status, to, Some(&form.note))
            .await
    }
    .await;
    finish(&state, &staff, &code, "status", result).await
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    to: String,
}

pub async fn assign(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path(code): Path<String>,
    Form(form): Form<AssignForm>,
) -> Response {
    if let Some(refused) = officer_only(&state, &staff, "assign", &code) {
        return refused;
    }
    // Only to an active officer or admin (or nobody).
    let to = form.to.trim();
    if !to.is_empty() {
        match state.inner.accounts.get(to) {
            Ok(Some(a)) if !a.disabled && a.role.can_act() => {}
            Ok(_) => return failure(StatusCode::UNPROCESSABLE_ENTITY),
            Err(e) => return technical(e),
        }
    }
    let result = state.inner.desk.assign(&staff.actor(), &code, to).await;
    finish(&state, &staff, &code, "assign", result).await
}

pub async fn attachment(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Path((code, n)): Path<(String, usize)>,
) -> Response {
    if let Some(refused) = officer_only(&state, &staff, "download", &code) {
        return refused;
    }
    let case = match find_case(&state, &code) {
        Ok(Some(c)) => c,
        Ok(None) => return failure(StatusCode::NOT_FOUND),
        Err(e) => return technical(e),
    };
    // A file is personal data: only once it was chosen to be shown.
    if !staff
        .session
        .has_revealed(case.code(), crate::time::now_secs())
    {
        return failure(StatusCode::FORBIDDEN);
    }
    let all = attachments_of(&case);
    let Some(path) = all.get(n).and_then(|a| stored_file(&state, &case, a)) else {
        return failure(StatusCode::NOT_FOUND);
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => return technical(e),
    };
    if let Err(e) = state
        .inner
        .accounts
        .audit(staff.name(), "download", case.code())
    {
        return technical(e);
    }
    let _ = state.inner.accounts.flush().await;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}-{n}\"", case.code())) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

// ----------------------------------------------------------------------------------------- export

/// The filtered case list as CSV (every matching case, not one page). Personal fields only for
/// officers and admins; the export is in the audit log.
pub async fn export_csv(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Query(mut filter): Query<Filter>,
) -> Response {
    let rows = match rows_of(&state) {
        Ok(r) => r,
        Err(e) => return technical(e),
    };
    let now = crate::time::now_secs();
    filter.page = 1;
    let listing = inbox::list(&rows, &filter, now, usize::MAX);
    let personal = staff.role().can_act();
    let fields = &state.inner.config.desk.personal_fields;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<&str> = vec![
        "code",
        "priority",
        "status",
        "referred_to",
        "category",
        "country",
        "channel",
        "opened_wib",
        "first_reply_wib",
        "overdue",
        "assignee",
    ];
    if personal {
        head.extend(fields.iter().map(String::as_str));
    }
    let _ = out.write_record(&head);
    for r in &listing.rows {
        let mut line = vec![
            r.code.clone(),
            r.priority.as_str().to_string(),
            r.status.as_str().to_string(),
            r.referred_to
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            r.category.clone(),
            r.country.clone(),
            r.channel.as_str().to_string(),
            wib(r.opened_at),
            r.first_reply_at.map(wib).unwrap_or_default(),
            r.overdue(now).to_string(),
            r.assignee.clone().unwrap_or_default(),
        ];
        if personal {
            let record = state.inner.engine.store().case_record(&r.code);
            let record = record.ok().flatten();
            for f in fields {
                line.push(
                    record
                        .as_ref()
                        .and_then(|c| c.fields.get(f).cloned())
                        .unwrap_or_default(),
                );
            }
        }
        let _ = out.write_record(&line);
    }
    let body = out.into_inner().unwrap_or_default();
    let action = if personal {
        "export_csv_personal"
    } else {
        "export_csv"
    };
    if let Err(e) = state
        .inner
        .accounts
        .audit(staff.name(), action, &listing.matching.to_string())
    {
        return technical(e);
    }
    let _ = state.inner.accounts.flush().await;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"pandu-kasus.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

// --------------------------------------------------------------------------------------- overview

/// One bar of a chart.
pub struct Bar {
    pub label: String,
    pub value: u64,
    /// A second value drawn as a mark (a target), if any.
    pub mark: Option<u64>,
}

/// A horizontal bar chart as SVG markup: geometry and the data's own labels, no words of ours.
pub fn bar_chart(bars: &[Bar]) -> String {
    let max = bars
        .iter()
        .map(|b| b.value.max(b.mark.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1);
    let row = 22;
    let (label_w, bar_w) = (170u64, 360u64);
    let height = (bars.len().max(1) as u64) * row + 4;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {} {height}\" role=\"img\">",
        label_w + bar_w + 60
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i as u64 * row + 2;
        let w = b.value * bar_w / max;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            label_w - 6,
            y + 15,
            escape(&b.label),
            row - 6,
            label_w + w + 4,
            y + 15,
            b.value
        );
        if let Some(m) = b.mark {
            let x = label_w + m * bar_w / max;
            let _ = write!(
                svg,
                "<line class=\"target\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/>",
                y,
                y + row - 4
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A stacked horizontal bar chart (one row per label, one segment per series) with a legend, as SVG.
/// Segments get the classes `s0`, `s1`, ... (colours in the stylesheet).
pub fn stacked_chart(rows: &[(String, Vec<u64>)], series: &[String]) -> String {
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let row = 20u64;
    let (label_w, bar_w) = (110u64, 400u64);
    let legend = 22u64;
    let height = (rows.len().max(1) as u64) * row + legend + 4;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {} {height}\" role=\"img\">",
        label_w + bar_w + 60
    );
    let mut x = label_w;
    for (i, name) in series.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect class=\"s{i}\" x=\"{x}\" y=\"4\" width=\"12\" height=\"12\"/><text x=\"{}\" y=\"15\">{}</text>",
            x + 16,
            escape(name)
        );
        x += 16 + 8 * name.chars().count() as u64 + 16;
    }
    for (r, (label, values)) in rows.iter().enumerate() {
        let y = r as u64 * row + legend + 2;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 6,
            y + 13,
            escape(label)
        );
        let mut x = label_w;
        for (i, v) in values.iter().enumerate() {
            let w = v * bar_w / max;
            if w > 0 {
                let _ = write!(
                    svg,
                    "<rect class=\"s{i}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{}\"/>",
                    row - 5
                );
            }
            x += w;
        }
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            x + 4,
            y + 13,
            values.iter().sum::<u64>()
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Days of the conversation chart, and of the flow ranking.
const CONVERSATION_DAYS: u64 = 14;
const FLOW_DAYS: u64 = 30;

/// Conversations per day by channel (the last [`CONVERSATION_DAYS`] days, WIB) and the flows entered
/// most in the last [`FLOW_DAYS`]: from the day counters the engine keeps (`storage::stats`), a
/// few hundred keys whatever the number of cases or messages.
fn usage_charts(state: &DeskState, now: u64) -> Result<(String, String), crate::storage::Error> {
    use crate::storage::stats::wib_date;
    let store = state.inner.engine.store();
    let day = 86_400;
    let today = wib_date(now);
    let first = wib_date(now.saturating_sub((CONVERSATION_DAYS - 1) * day));
    let channels = [Channel::Whatsapp, Channel::Telegram, Channel::Console];
    let mut per_day: BTreeMap<String, Vec<u64>> = (0..CONVERSATION_DAYS)
        .rev()
        .map(|back| {
            (
                wib_date(now.saturating_sub(back * day)),
                vec![0; channels.len()],
            )
        })
        .collect();
    for (date, channel, n) in store.day_counts("d", &first, &today)? {
        if let (Some(v), Some(i)) = (
            per_day.get_mut(&date),
            channels.iter().position(|c| c.as_str() == channel),
        ) {
            v[i] += n;
        }
    }
    let names: Vec<String> = channels
        .iter()
        .map(|c| {
            state
                .inner
                .texts
                .staff
                .channels
                .get(c.as_str())
                .cloned()
                .unwrap_or_else(|| c.as_str().to_string())
        })
        .collect();
    let conversations = stacked_chart(&per_day.into_iter().collect::<Vec<_>>(), &names);
    let first = wib_date(now.saturating_sub((FLOW_DAYS - 1) * day));
    let mut flows: BTreeMap<String, u64> = BTreeMap::new();
    for (_, flow, n) in store.day_counts("f", &first, &today)? {
        *flows.entry(flow).or_default() += n;
    }
    let mut flows: Vec<(String, u64)> = flows.into_iter().collect();
    flows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    flows.truncate(15);
    let flows = bar_chart(
        &flows
            .into_iter()
            .map(|(label, value)| Bar {
                label,
                value,
                mark: None,
            })
            .collect::<Vec<_>>(),
    );
    Ok((conversations, flows))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Template)]
#[template(path = "desk/overview.html")]
struct OverviewPage {
    frame: Frame,
    total: usize,
    open: usize,
    overdue: usize,
    weeks: String,
    categories: String,
    countries: String,
    ages: String,
    response: String,
    channels: String,
    conversations: String,
    flows: String,
    conversation_days: u64,
    flow_days: u64,
}

pub async fn overview(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
) -> Response {
    let rows = match rows_of(&state) {
        Ok(r) => r,
        Err(e) => return technical(e),
    };
    let now = crate::time::now_secs();
    let week = 7 * 86_400;
    let this_week = now / week;
    let mut weeks: BTreeMap<u64, u64> = BTreeMap::new();
    let mut categories: BTreeMap<String, u64> = BTreeMap::new();
    let mut countries: BTreeMap<String, u64> = BTreeMap::new();
    let mut channels: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut ages = [0u64; 5];
    let mut response: BTreeMap<Priority, Vec<u64>> = BTreeMap::new();
    let (mut open, mut overdue) = (0, 0);
    for r in rows.iter() {
        let w = r.opened_at / week;
        if this_week.saturating_sub(w) < 12 {
            *weeks.entry(w).or_default() += 1;
        }
        *categories.entry(r.category.clone()).or_default() += 1;
        let country = if r.country.is_empty() {
            "?"
        } else {
            &r.country
        };
        *countries.entry(country.to_string()).or_default() += 1;
        *channels.entry(r.channel.as_str()).or_default() += 1;
        if r.status.is_open() {
            open += 1;
            let days = now.saturating_sub(r.opened_at) / 86_400;
            let bucket = match days {
                0 => 0,
                1..=2 => 1,
                3..=6 => 2,
                7..=29 => 3,
                _ => 4,
            };
            ages[bucket] += 1;
        }
        if r.overdue(now) {
            overdue += 1;
        }
        if let Some(first) = r.first_reply_at {
            response
                .entry(r.priority)
                .or_default()
                .push(first.saturating_sub(r.opened_at));
        }
    }
    let top = |map: BTreeMap<String, u64>, label: &dyn Fn(&str) -> String| {
        let mut v: Vec<(String, u64)> = map.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(12);
        v.into_iter()
            .map(|(k, n)| Bar {
                label: label(&k),
                value: n,
                mark: None,
            })
            .collect::<Vec<_>>()
    };
    let weeks: Vec<Bar> = (0..12u64)
        .rev()
        .map(|back| {
            let w = this_week.saturating_sub(back);
            Bar {
                label: Date::from_unix(w * week + 7 * 3600).to_string(),
                value: weeks.get(&w).copied().unwrap_or(0),
                mark: None,
            }
        })
        .collect();
    let ages: Vec<Bar> = ["0", "1-2", "3-6", "7-29", "30+"]
        .iter()
        .zip(ages)
        .map(|(l, n)| Bar {
            label: (*l).to_string(),
            value: n,
            mark: None,
        })
        .collect();
    let response: Vec<Bar> = [Priority::P1, Priority::P2, Priority::P3, Priority::P4]
        .into_iter()
        .map(|p| {
            let mut times = response.get(&p).cloned().unwrap_or_default();
            times.sort_unstable();
            let median = times.get(times.len() / 2).copied().unwrap_or(0);
            Bar {
                label: p.as_str().to_string(),
                value: median / 3600,
                mark: Some(u64::from(p.target_hours(&state.inner.config))),
            }
        })
        .collect();
    let channels: Vec<Bar> = channels
        .into_iter()
        .map(|(k, n)| Bar {
            label: k.to_string(),
            value: n,
            mark: None,
        })
        .collect();
    let (conversations, flows) = match usage_charts(&state, now) {
        Ok(charts) => charts,
        Err(e) => return technical(e),
    };
    let page = OverviewPage {
        frame: Frame::of(&staff, None, "overview"),
        conversations,
        flows,
        conversation_days: CONVERSATION_DAYS,
        flow_days: FLOW_DAYS,
        total: rows.len(),
        open,
        overdue,
        weeks: bar_chart(&weeks),
        categories: bar_chart(&top(categories, &|k| category_label(&state, k))),
        countries: bar_chart(&top(countries, &|k| k.to_string())),
        ages: bar_chart(&ages),
        response: bar_chart(&response),
        channels: bar_chart(&channels),
    };
    html(StatusCode::OK, &page)
}

// ----------------------------------------------------------------------------- not understood

/// One group of the same (masked) message at the same place.
pub struct QuestionView {
    pub node: String,
    pub text: String,
    pub n: usize,
    pub last: String,
}

/// How many messages went unanswered at one place (`flow/node`, `-` outside any flow).
pub struct NodeCount {
    pub node: String,
    pub n: usize,
}

#[derive(Template)]
#[template(path = "desk/questions.html")]
struct QuestionsPage {
    frame: Frame,
    days: u64,
    total: usize,
    nodes: Vec<NodeCount>,
    /// Empty for a viewer: the words stay with officers and admins.
    groups: Vec<QuestionView>,
    words: bool,
}

/// At most this many messages are read for the page (a month of a busy helpline).
const QUESTIONS_READ: usize = 50_000;
/// Groups shown.
const QUESTIONS_SHOWN: usize = 300;

/// Messages Pandu did not understand, grouped by place and (masked) words, most frequent first.
///
/// A viewer sees only the counts per place, not the words: the masking removes numbers and
/// addresses, but not names or places a person typed ("anak saya Siti di Johor"), and a viewer is
/// the role that never sees what a person wrote. Officers and admins, who may see reports, see the
/// words so they can turn them into triggers.
pub async fn questions(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
) -> Response {
    let days = state.inner.config.retention.unanswered_days;
    let now = crate::time::now_secs();
    let since = if days == 0 {
        0
    } else {
        now.saturating_sub(days.saturating_mul(86_400))
    };
    let store = state.inner.engine.store().clone();
    let read = tokio::task::spawn_blocking(move || store.unanswered_since(since, QUESTIONS_READ));
    let entries = match read.await {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return technical(e),
        Err(e) => return technical(e),
    };
    let words = staff.role().can_act();
    let mut nodes: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: BTreeMap<(String, String), (usize, u64)> = BTreeMap::new();
    for e in &entries {
        *nodes.entry(e.node.clone()).or_default() += 1;
        if words {
            let g = groups.entry((e.node.clone(), e.text.clone())).or_default();
            g.0 += 1;
            g.1 = g.1.max(e.at);
        }
    }
    let mut nodes: Vec<NodeCount> = nodes
        .into_iter()
        .map(|(node, n)| NodeCount { node, n })
        .collect();
    nodes.sort_by(|a, b| b.n.cmp(&a.n).then(a.node.cmp(&b.node)));
    let mut groups: Vec<((String, String), (usize, u64))> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(b.1.1.cmp(&a.1.1)));
    groups.truncate(QUESTIONS_SHOWN);
    let page = QuestionsPage {
        frame: Frame::of(&staff, None, "questions"),
        days,
        total: entries.len(),
        nodes,
        groups: groups
            .into_iter()
            .map(|((node, text), (n, last))| QuestionView {
                node,
                text,
                n,
                last: wib(last),
            })
            .collect(),
        words,
    };
    html(StatusCode::OK, &page)
}

// ------------------------------------------------------------------------------------------ audit

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditFilter {
    actor: String,
    action: String,
    target: String,
}

pub struct AuditView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

#[derive(Template)]
#[template(path = "desk/audit.html")]
struct AuditPage {
    frame: Frame,
    entries: Vec<AuditView>,
    filter: AuditFilter,
    actions: Vec<Choice>,
}

/// The audit actions the filter offers (machine words; the template names them).
const AUDIT_ACTIONS: [&str; 18] = [
    "sign_in",
    "sign_in_failed",
    "locked",
    "sign_out",
    "view_case",
    "reveal",
    "download",
    "reply",
    "status",
    "note",
    "assign",
    "export_csv",
    "export_csv_personal",
    "account_added",
    "password_reset",
    "password_changed",
    "password_change_failed",
    "account_disabled",
];

pub async fn audit(
    State(state): State<DeskState>,
    Extension(staff): Extension<Staff>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    if staff.role() != Role::Admin {
        return failure(StatusCode::FORBIDDEN);
    }
    let entries = match state.inner.accounts.audit_log(
        filter.actor.trim(),
        filter.action.trim(),
        filter.target.trim(),
        500,
    ) {
        Ok(e) => e,
        Err(e) => return technical(e),
    };
    let entries = entries
        .into_iter()
        .map(|e: AuditEntry| AuditView {
            at: wib(e.at),
            actor: e.actor,
            action: e.action,
            target: e.target,
        })
        .collect();
    html(
        StatusCode::OK,
        &AuditPage {
            frame: Frame::of(&staff, None, "audit"),
            entries,
            actions: AUDIT_ACTIONS
                .iter()
                .map(|a| Choice {
                    value: (*a).to_string(),
                    label: String::new(),
                    selected: filter.action == *a,
                })
                .collect(),
            filter,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_wib() {
        // 2026-01-01 17:30 UTC is 2026-01-02 00:30 WIB.
        let secs = 1_767_288_600;
        assert_eq!(wib(secs), "2026-01-02 00:30");
    }

    #[test]
    fn chart_labels_are_escaped() {
        let svg = bar_chart(&[Bar {
            label: "<b>".into(),
            value: 3,
            mark: Some(4),
        }]);
        assert!(svg.contains("&lt;b&gt;"));
        assert!(svg.starts_with("<svg"));
    }
}
