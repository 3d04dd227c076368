//! Staff commands from the terminal (`pandu cases ...`, `pandu agencies ...`).
//!
//! sled lets one process open the data folder, and in production that process is `pandu serve`. So a
//! staff command runs in-process when the folder is free, and otherwise is forwarded to the running
//! server over loopback: `POST /admin/run` with the token `pandu serve` writes to `<data_dir>/admin.token`
//! (mode 0600) at start. Whoever can read the data folder can administer; nobody else can, and the route
//! refuses any peer that is not loopback. Every command is logged with its actor (never its text), and
//! the case commands record themselves in the case timeline.
//!
//! Invariants: the token is compared in constant time and never logged; a forwarded command runs exactly
//! the same code as a local one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::cases::texts::{CaseTexts, fill};
use crate::cases::{CaseError, Desk, Priority, Referral, Status};
use crate::config::Config;
use crate::engine::Engine;
use crate::registry::{AgencyLabels, Registry, StaffText, StaffTexts};

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum CasesCommand {
    /// Cases, most urgent and oldest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        priority: Option<String>,
    },
    /// One case with its timeline (recorded as an access).
    Show { code: String },
    /// Send a message to the reporter through their own channel.
    Reply { code: String, text: String },
    /// Move a case on: in_review, referred (--to BP3MI|KP2MI|embassy|police|other), resolved, closed. As in
    /// the staff group, the target and the note may also follow the status:
    /// `status CODE referred BP3MI surat no. 12`. A reporter who chose "for the dinas only" is referred
    /// only with the basis opening the note: `setuju: ...` (they agreed since) or `darurat: ...`.
    Status {
        code: String,
        status: String,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        note: Option<String>,
        /// [TARGET] [NOTE...], the staff group's way.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// An internal note for staff.
    Note { code: String, text: String },
    /// Delete the personal data of cases closed before DATE (retention).
    Purge {
        #[arg(long = "closed-before")]
        closed_before: String,
    },
    /// Everything stored about one case, as JSON (data-subject request).
    Export { code: String },
    /// Phone numbers, accounts and company names that recur in reported job offers, with counts and
    /// the cases they came from.
    Offers,
}

/// `pandu agencies ...`: the registry of licensed placement companies (see docs/agencies.md).
#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum AgenciesCommand {
    /// Import the official list (CSV UTF-8): all or nothing, every bad row reported.
    Import {
        file: PathBuf,
        /// Where the list came from (default: the file's `# source:` line, else SISKOP2MI).
        #[arg(long)]
        source: Option<String>,
        /// The day the list shows, YYYY-MM-DD (default: the file's `# as_of:` line, else today).
        #[arg(long = "as-of")]
        as_of: Option<String>,
    },
    /// What the bot would answer for a name or licence number, with scores and offices.
    Search { query: String },
    /// Which list is served, its date and source, counts.
    Stats,
    /// Go back to the previous list (run again to undo).
    Rollback,
}

/// A staff command, as typed or as forwarded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum StaffCommand {
    Cases(CasesCommand),
    Agencies(AgenciesCommand),
    /// `pandu backup FILE`: a consistent copy of the database while the bot runs.
    Backup {
        file: PathBuf,
    },
    /// Accounts of the web desk (`pandu staff ...`).
    Staff(crate::web::desk::command::AccountsCommand),
}

#[derive(Serialize, Deserialize)]
struct Forwarded {
    command: StaffCommand,
    actor: String,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    ok: bool,
    output: String,
}

/// What a command needs, in-process or inside `pandu serve`.
#[derive(Clone)]
pub struct StaffContext {
    pub config: Config,
    pub engine: Engine,
    /// The live agency registry the bot answers from (`None` when it failed to load).
    pub registry: Option<Registry>,
}

/// Runs a command; `Err` carries a message for the terminal.
pub async fn execute(
    ctx: &StaffContext,
    command: &StaffCommand,
    actor: &str,
) -> Result<String, String> {
    tracing::info!(actor = %actor, command = command_name(command), "staff command");
    match command {
        StaffCommand::Cases(cmd) => {
            let desk = Desk::new(ctx.engine.clone(), &ctx.config).map_err(|e| e.to_string())?;
            cases(&desk, cmd, actor).await.map_err(|e| desk.failure(&e))
        }
        StaffCommand::Agencies(cmd) => agencies(ctx, cmd).await,
        StaffCommand::Backup { file } => {
            let texts = CaseTexts::load(&ctx.config).map_err(|e| e.to_string())?;
            let store = ctx.engine.store().clone();
            let path = file.clone();
            let copied = tokio::task::spawn_blocking(move || store.backup(&path))
                .await
                .map_err(|e| backup_failure(&texts, &file.display().to_string(), &e.to_string()))?
                .map_err(|e| backup_error(&texts, &e))?;
            tracing::info!(
                records = copied.records,
                bytes = copied.bytes,
                "backup written"
            );
            Ok(fill(
                &texts.staff.backup_done,
                &[
                    ("file", &file.display().to_string()),
                    ("records", &copied.records.to_string()),
                    ("size", &size_words(copied.bytes)),
                ],
            ))
        }
        StaffCommand::Staff(cmd) => {
            crate::web::desk::command::run(ctx.engine.store(), &ctx.config, cmd, actor).await
        }
    }
}

/// A size in the staff's words: "850 KB", "12,5 MB" (a decimal comma, as Indonesian writes it).
pub(crate) fn size_words(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes < MB {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        let tenths = (bytes * 10 + MB / 2) / MB;
        format!("{},{} MB", tenths / 10, tenths % 10)
    }
}

/// Why a backup or a restore failed, in the staff's words (`staff.backup_*` in `_cases.yaml`), after
/// `staff.error` ("Gagal: ...").
pub(crate) fn backup_error(texts: &CaseTexts, error: &crate::storage::Error) -> String {
    use crate::storage::{BackupProblem, Error};
    let t = &texts.staff;
    let why = match error {
        Error::Backup { file, problem } => match problem {
            BackupProblem::NotBackup => fill(&t.backup_not_backup, &[("file", file)]),
            BackupProblem::Damaged => fill(&t.backup_damaged, &[("file", file)]),
            BackupProblem::NotEmpty(names) => fill(
                &t.restore_not_empty,
                &[("dir", file), ("names", &names.join(", "))],
            ),
        },
        Error::NewerFormat {
            dir,
            found,
            supported,
        } => fill(
            &t.backup_newer,
            &[
                ("file", dir),
                ("found", &found.to_string()),
                ("supported", &supported.to_string()),
            ],
        ),
        Error::File { path, source } => {
            return backup_failure(texts, path, &source.to_string());
        }
        other => fill(&t.technical, &[("detail", &other.to_string())]),
    };
    fill(&t.error, &[("error", &why)])
}

/// A backup file that could not be read or written.
fn backup_failure(texts: &CaseTexts, file: &str, detail: &str) -> String {
    let why = fill(
        &texts.staff.backup_file,
        &[("file", file), ("detail", detail)],
    );
    fill(&texts.staff.error, &[("error", &why)])
}

/// A cases command; its output and failures are the desk's texts (`dialogs/_cases.yaml`), the same
/// words the staff Telegram group reads.
async fn cases(desk: &Desk, cmd: &CasesCommand, actor: &str) -> Result<String, CaseError> {
    match cmd {
        CasesCommand::List { status, priority } => {
            let status = status.as_deref().map(Status::parse).transpose()?;
            let priority = priority.as_deref().map(Priority::parse).transpose()?;
            desk.list(actor, status, priority).await
        }
        CasesCommand::Show { code } => desk.show(actor, code).await,
        CasesCommand::Reply { code, text } => desk.reply(actor, code, text).await,
        CasesCommand::Status {
            code,
            status,
            to,
            note,
            words,
        } => {
            let status = Status::parse(status)?;
            let mut words = words.iter().map(String::as_str);
            let to = match to.as_deref() {
                Some(to) => Some(to),
                None if status == Status::Referred => words.next(),
                None => None,
            };
            let to = to.map(Referral::parse).transpose()?;
            let rest = words.collect::<Vec<_>>().join(" ");
            let note = match note.as_deref() {
                Some(note) if rest.is_empty() => Some(note.to_string()),
                Some(note) => Some(format!("{note} {rest}")),
                None => (!rest.is_empty()).then_some(rest),
            };
            desk.set_status(actor, code, status, to, note.as_deref())
                .await
        }
        CasesCommand::Note { code, text } => desk.note(actor, code, text).await,
        CasesCommand::Purge { closed_before } => {
            let date = crate::time::Date::parse(closed_before)
                .ok_or_else(|| CaseError::BadDate(closed_before.clone()))?;
            desk.purge(actor, date).await
        }
        CasesCommand::Export { code } => desk.export(actor, code).await,
        CasesCommand::Offers => desk.offer_patterns(actor).await,
    }
}

/// An agencies command; its output and failures are the `[staff]` texts of `config/agencies.toml`,
/// read for each command (an edited text shows at once, as the desk's do). When that file itself is
/// wrong, the answer names the file, the line and the key.
async fn agencies(ctx: &StaffContext, cmd: &AgenciesCommand) -> Result<String, String> {
    let labels = AgencyLabels::load(&ctx.config.agencies.labels_file).map_err(|e| e.to_string())?;
    let texts = labels.staff();
    let registry = ctx
        .registry
        .as_ref()
        .ok_or_else(|| texts.failed(texts.text(StaffText::NotLoaded)))?;
    match cmd {
        AgenciesCommand::Import {
            file,
            source,
            as_of,
        } => {
            let as_of = as_of
                .as_deref()
                .map(|d| {
                    crate::time::Date::parse(d).ok_or_else(|| {
                        texts.failed(texts.fill(StaffText::BadAsOf, &[("value", d.to_string())]))
                    })
                })
                .transpose()?;
            let registry = registry.clone();
            let store = ctx.engine.store().clone();
            let file = file.clone();
            let source = source.clone();
            let worker_texts = texts.clone();
            // Parsing a large file is CPU work: keep it off the async workers that serve users.
            tokio::task::spawn_blocking(move || {
                let texts = worker_texts;
                let mut bar = progress_bar(texts.clone());
                registry
                    .import_csv(&store, &file, source, as_of, &mut bar)
                    .map(|report| report.describe(&texts))
                    .map_err(|e| texts.failed(e.describe(&texts)))
            })
            .await
            .map_err(|e| {
                texts.failed(texts.fill(StaffText::ImportStopped, &[("detail", e.to_string())]))
            })?
        }
        AgenciesCommand::Search { query } => Ok(registry.search_text(query, &labels)),
        AgenciesCommand::Stats => Ok(registry.stats_text(&labels)),
        AgenciesCommand::Rollback => registry
            .rollback(ctx.engine.store())
            .map(|meta| {
                texts.fill(
                    StaffText::RollbackDone,
                    &[("snapshot", texts.snapshot(&meta))],
                )
            })
            .map_err(|e| texts.failed(e.describe(texts))),
    }
}

/// A progress line on stderr while a large file is read, when stderr is a terminal (`pandu agencies
/// import` run by hand); nothing otherwise (a forwarded import runs inside `pandu serve`, whose stderr is
/// its log).
fn progress_bar(texts: StaffTexts) -> impl FnMut(u64, u64) {
    use std::io::{IsTerminal, Write};
    let terminal = std::io::stderr().is_terminal();
    let mut shown = None;
    move |done: u64, total: u64| {
        // Files under 1 MB are read in a blink: no bar.
        if !terminal || total < (1 << 20) {
            return;
        }
        let percent = done.saturating_mul(100) / total.max(1);
        if shown == Some(percent) {
            return;
        }
        shown = Some(percent);
        let filled = usize::try_from(percent / 5).unwrap_or(20).min(20);
        let bar = format!("{}{}", "#".repeat(filled), " ".repeat(20 - filled));
        let line = texts.fill(
            StaffText::ImportProgress,
            &[("bar", bar), ("percent", format!("{percent:>3}"))],
        );
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{line}");
        if done >= total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

fn command_name(command: &StaffCommand) -> &'static str {
    match command {
        StaffCommand::Cases(c) => match c {
            CasesCommand::List { .. } => "cases list",
            CasesCommand::Show { .. } => "cases show",
            CasesCommand::Reply { .. } => "cases reply",
            CasesCommand::Status { .. } => "cases status",
            CasesCommand::Note { .. } => "cases note",
            CasesCommand::Purge { .. } => "cases purge",
            CasesCommand::Export { .. } => "cases export",
            CasesCommand::Offers => "cases offers",
        },
        StaffCommand::Backup { .. } => "backup",
        StaffCommand::Agencies(c) => match c {
            AgenciesCommand::Import { .. } => "agencies import",
            AgenciesCommand::Search { .. } => "agencies search",
            AgenciesCommand::Stats => "agencies stats",
            AgenciesCommand::Rollback => "agencies rollback",
        },
        StaffCommand::Staff(c) => c.name(),
    }
}

/// Who is at the terminal, for the audit trail.
/// Who runs a staff command on this machine, for the case timeline: the person behind `sudo` when
/// there is one (staff run commands as the service's user, `sudo -u pandu pandu cases ...`, and the
/// timeline must name them, not the service account), else the login user.
pub fn local_actor() -> String {
    actor_from(|name| std::env::var(name).ok(), process_account)
}

/// The process's user id (the owner of `/proc/self`) and its name in `/etc/passwd`, if any. `USER` is
/// unset for root under cron, systemd units and `su -c`; the id is always there.
fn process_account() -> Option<(u32, Option<String>)> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Some((uid, user_name_of(&passwd, uid)))
}

/// The name of `uid` in a passwd file's text.
fn user_name_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        let id = parts.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

fn actor_from(
    env: impl Fn(&str) -> Option<String>,
    account: impl Fn() -> Option<(u32, Option<String>)>,
) -> String {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let user = set("USER").or_else(|| set("LOGNAME"));
    match (set("SUDO_USER"), user) {
        (Some(person), Some(account)) if person != account => {
            format!("cli:{person} (sudo {account})")
        }
        (Some(person), _) => format!("cli:{person}"),
        (None, Some(user)) => format!("cli:{user}"),
        // No login name in the environment: the account the process runs as, by name, else by id.
        (None, None) => match account() {
            Some((_, Some(name))) => format!("cli:{name}"),
            Some((uid, None)) => format!("cli:uid:{uid}"),
            None => "cli:uid:?".into(),
        },
    }
}

pub fn token_path(config: &Config) -> PathBuf {
    config.data_dir.join("admin.token")
}

/// Where `pandu serve` writes the address it really listens on (which `--listen` may have changed from
/// `server.listen`): staff commands send the token there and nowhere else.
pub fn address_path(config: &Config) -> PathBuf {
    config.data_dir.join("admin.addr")
}

/// Writes a file only this user can read (0600, also when it existed with wider rights).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut file, text.as_bytes())
}

/// Writes the address `pandu serve` bound (e.g. `127.0.0.1:8181`) next to the token, mode 0600.
pub fn write_address(config: &Config, bound: &str) -> std::io::Result<()> {
    write_private(&address_path(config), bound)
}

/// Where to reach the server that wrote `text`: an unspecified address (`0.0.0.0`, `[::]`) is
/// reached on the loopback address of its family.
fn admin_address(text: &str) -> Option<SocketAddr> {
    let mut addr: SocketAddr = text.trim().parse().ok()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Some(addr)
}

/// Whether a peer is this machine: loopback, also as an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`,
/// how IPv4 clients arrive at a server listening on `[::]`).
fn is_loopback(ip: std::net::IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether a request comes from this machine itself: a loopback peer, and not through a proxy on this
/// machine (which makes every outside request look like loopback and adds its forwarding headers).
pub(crate) fn from_this_machine(peer: SocketAddr, headers: &HeaderMap) -> bool {
    is_loopback(peer.ip())
        && !["x-forwarded-for", "forwarded", "x-real-ip"]
            .iter()
            .any(|h| headers.contains_key(*h))
}

/// Writes a fresh admin token readable only by this user; returns it.
pub fn write_token(config: &Config) -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let path = token_path(config);
    crate::app::private_dir(&config.data_dir).map_err(std::io::Error::other)?;
    // A token file others could read means the old token may be known: refuse, with the fix.
    crate::app::check_private(&path).map_err(std::io::Error::other)?;
    write_private(&path, &token)?;
    Ok(token)
}

/// Sends a command to the running server, at the address it wrote next to its token (never the
/// configured one: `--listen` may have moved it, and whoever listens there would get the token).
pub async fn forward(
    config: &Config,
    command: StaffCommand,
    actor: String,
) -> Result<String, String> {
    let path = token_path(config);
    crate::app::check_private(&path)?;
    let token = std::fs::read_to_string(&path)
        .map_err(|e| format!("the data folder is in use but {} cannot be read ({e}); is `pandu serve` running as another user?", path.display()))?;
    let address_file = address_path(config);
    let written = std::fs::read_to_string(&address_file).map_err(|e| {
        format!(
            "the data folder is in use but {} cannot be read ({e}); restart `pandu serve` with this version",
            address_file.display()
        )
    })?;
    let addr = admin_address(&written).ok_or_else(|| {
        format!(
            "{} does not hold an address ({:?}); restart `pandu serve`",
            address_file.display(),
            written.trim()
        )
    })?;
    let url = format!("http://{addr}/admin/run");
    let client = reqwest::Client::new();
    let response = client
        .post(&url)
        .bearer_auth(token.trim())
        .json(&Forwarded { command, actor })
        .send()
        .await
        .map_err(|e| format!("cannot reach pandu serve at {url}: {e}"))?;
    let status = response.status();
    let answer: Answer = response
        .json()
        .await
        .map_err(|e| format!("pandu serve answered {status} with something unreadable: {e}"))?;
    if answer.ok {
        Ok(answer.output)
    } else {
        Err(answer.output)
    }
}

#[derive(Clone)]
struct AdminState {
    ctx: StaffContext,
    token: Arc<String>,
}

async fn run(
    State(state): State<AdminState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(request): Json<Forwarded>,
) -> (StatusCode, Json<Answer>) {
    let refuse = |code, why: &str| {
        (
            code,
            Json(Answer {
                ok: false,
                output: why.to_string(),
            }),
        )
    };
    if !is_loopback(peer.ip()) {
        tracing::warn!("admin request from a non-loopback peer refused");
        return refuse(
            StatusCode::FORBIDDEN,
            "admin commands are accepted from this machine only",
        );
    }
    // A reverse proxy on this machine (nginx in front of the webhooks) makes every outside request
    // look like loopback; such requests carry its forwarding headers and are refused.
    if ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        tracing::warn!("admin request through a proxy refused");
        return refuse(
            StatusCode::FORBIDDEN,
            "admin commands are accepted from this machine only, not through a proxy",
        );
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(state.token.as_bytes())) {
        tracing::warn!("admin request with a wrong token refused");
        return refuse(StatusCode::UNAUTHORIZED, "wrong admin token");
    }
    match execute(&state.ctx, &request.command, &request.actor).await {
        Ok(output) => (StatusCode::OK, Json(Answer { ok: true, output })),
        Err(output) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(Answer { ok: false, output }),
        ),
    }
}

/// `POST /admin/run`, for `pandu serve`. Serve with `into_make_service_with_connect_info`.
pub fn router(ctx: StaffContext, token: String) -> Router {
    Router::new()
        .route("/admin/run", post(run))
        .with_state(AdminState {
            ctx,
            token: Arc::new(token),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{actor_from, admin_address, is_loopback, local_actor, user_name_of};

    #[test]
    fn loopback_is_loopback_also_when_it_arrives_as_an_ipv4_mapped_address() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(is_loopback(ip("127.0.0.1")));
        assert!(is_loopback(ip("::1")));
        // A server on [::] sees IPv4 loopback clients like this.
        assert!(is_loopback(ip("::ffff:127.0.0.1")));
        assert!(!is_loopback(ip("::ffff:203.0.113.9")));
        assert!(!is_loopback(ip("203.0.113.9")));
        assert!(!is_loopback(ip("2001:db8::1")));
    }

    #[test]
    fn a_server_on_every_interface_is_reached_on_loopback_of_its_family() {
        let at = |s: &str| admin_address(s).unwrap().to_string();
        assert_eq!(at("0.0.0.0:8181"), "127.0.0.1:8181");
        assert_eq!(at("[::]:8181\n"), "[::1]:8181");
        assert_eq!(at("127.0.0.1:9"), "127.0.0.1:9");
        assert!(admin_address("nonsense").is_none());
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_timeline_names_the_person_behind_sudo_not_the_service_account() {
        let root = || Some((0, Some("root".to_string())));
        assert_eq!(
            actor_from(env(&[("USER", "pandu"), ("SUDO_USER", "budi")]), root),
            "cli:budi (sudo pandu)"
        );
        assert_eq!(actor_from(env(&[("USER", "budi")]), root), "cli:budi");
        assert_eq!(actor_from(env(&[("LOGNAME", "ani")]), root), "cli:ani");
        assert_eq!(
            actor_from(env(&[("USER", "root"), ("SUDO_USER", "root")]), root),
            "cli:root"
        );
    }

    #[test]
    fn without_user_in_the_environment_the_account_is_named_never_unknown() {
        assert_eq!(
            actor_from(env(&[("USER", " ")]), || Some((0, Some("root".into())))),
            "cli:root"
        );
        assert_eq!(actor_from(env(&[]), || Some((1007, None))), "cli:uid:1007");
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\npandu:x:998:998::/var/lib/pandu:/usr/sbin/nologin\n";
        assert_eq!(user_name_of(passwd, 998).as_deref(), Some("pandu"));
        assert_eq!(user_name_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name_of(passwd, 5), None);
        // On this machine: whoever runs the test has a name or an id, never "unknown".
        assert!(!local_actor().contains("unknown"));
    }
}
