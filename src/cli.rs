//! The command line: parses arguments and runs one command. `src/main.rs` only calls [`main`].
//!
//! Output written here is for dialog authors and operators (`pandu check`, startup errors), in English.
//! What staff read from `pandu cases` and `pandu agencies` comes from their texts (`dialogs/_cases.yaml`,
//! the `[staff]` table of `config/agencies.toml`), and what the bot says to users from `dialogs/` and
//! `config/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app;
use crate::channels::console::{self, ConsoleOptions};
use crate::config::Config;
use crate::dialog::model::Confidence;
use crate::dialog::transcript;
use crate::dialog::{Lang, Severity};

#[derive(Parser, Debug)]
#[command(
    name = "pandu",
    version,
    about = "Guidance and case bot for migrant workers (Dinperinaker Kota Pekalongan)"
)]
pub struct Cli {
    /// Config file (default: config/pandu.toml if present).
    #[arg(long, global = true, env = "PANDU_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Chat with the bot in this terminal (sessions are kept in the data folder).
    Chat {
        /// Conversation id; the same id resumes the same conversation.
        #[arg(long, default_value = "local")]
        user: String,
        /// Language of a new conversation: id or en.
        #[arg(long)]
        lang: Option<String>,
        /// One JSON line out for every line in; texts keep the dialogs' markup (*bold*, _italic_,
        /// \\* for a literal star).
        #[arg(long)]
        json: bool,
    },
    /// Check the dialogs, run the conversation tests and the phrasing corpus.
    Check {
        /// Print the go-live checklist of facts for staff (unverified first).
        #[arg(long)]
        facts: bool,
        /// List the actions dialogs can call.
        #[arg(long)]
        actions: bool,
    },
    /// Staff: reports and escalations (runs inside `pandu serve` when it is running).
    Cases {
        #[command(subcommand)]
        command: crate::admin::CasesCommand,
    },
    /// Staff: the registry of licensed placement companies (P3MI); see docs/agencies.md.
    Agencies {
        #[command(subcommand)]
        command: crate::admin::AgenciesCommand,
    },
    /// Staff: accounts of the web desk (/staff); a new password is printed once.
    Staff {
        #[command(subcommand)]
        command: crate::web::desk::command::AccountsCommand,
    },
    /// Run the bot: HTTP server, channels and their workers.
    Serve {
        /// Listen address (overrides server.listen).
        #[arg(long, env = "PANDU_LISTEN")]
        listen: Option<String>,
        /// Also chat with the bot in this terminal (as `pandu chat`); ctrl-d stops the server.
        #[arg(long)]
        chat: bool,
        /// With --chat: the conversation id.
        #[arg(long, default_value = "local", requires = "chat")]
        user: String,
        /// With --chat: language of a new conversation, id or en.
        #[arg(long, requires = "chat")]
        lang: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A terminal chat is not drowned in the server's info lines; PANDU_LOG still decides.
    let chatting = matches!(cli.command, Command::Serve { chat: true, .. });
    init_logging(if chatting { "warn" } else { "info" });
    let config = match Config::load_from_env(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Check { facts, actions } => check(&config, facts, actions),
        Command::Chat { user, lang, json } => runtime.block_on(chat(&config, user, lang, json)),
        Command::Serve {
            listen,
            chat,
            user,
            lang,
        } => {
            let chat = if chat {
                let Some(lang) = parse_lang(lang) else {
                    return ExitCode::from(2);
                };
                Some(ConsoleOptions {
                    user,
                    lang,
                    json: false,
                })
            } else {
                None
            };
            let code = runtime.block_on(crate::serve::run(
                config,
                crate::serve::ServeOptions { listen, chat },
            ));
            // The terminal's reader may still wait for a line on a blocking thread; everything is
            // flushed by now, so do not wait for it.
            runtime.shutdown_background();
            code
        }
        Command::Staff { command } => {
            runtime.block_on(staff(&config, crate::admin::StaffCommand::Staff(command)))
        }
        Command::Cases { command } => {
            runtime.block_on(staff(&config, crate::admin::StaffCommand::Cases(command)))
        }
        Command::Agencies { command } => {
            // A forwarded import is read by the server: give it a path that does not depend on our
            // working directory.
            let command = match command {
                crate::admin::AgenciesCommand::Import {
                    file,
                    source,
                    as_of,
                } => crate::admin::AgenciesCommand::Import {
                    file: std::path::absolute(&file).unwrap_or(file),
                    source,
                    as_of,
                },
                other => other,
            };
            runtime.block_on(staff(
                &config,
                crate::admin::StaffCommand::Agencies(command),
            ))
        }
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PANDU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `--lang`: `Some(None)` when not given, `None` (after saying why) when it is not a language.
fn parse_lang(lang: Option<String>) -> Option<Option<Lang>> {
    match lang.as_deref().map(Lang::parse) {
        Some(None) => {
            eprintln!("error: --lang takes id or en");
            None
        }
        Some(Some(l)) => Some(Some(l)),
        None => Some(None),
    }
}

async fn chat(config: &Config, user: String, lang: Option<String>, json: bool) -> ExitCode {
    let Some(lang) = parse_lang(lang) else {
        return ExitCode::from(2);
    };
    let store = match app::open_store(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match app::start_engine(config, &store) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = console::run(&running.engine, ConsoleOptions { user, lang, json }).await;
    drop(running.engine);
    let _ = running.writer.await;
    let _ = store.flush().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a staff command here, or in the running server when it holds the data folder.
async fn staff(config: &Config, command: crate::admin::StaffCommand) -> ExitCode {
    let actor = crate::admin::local_actor();
    let result = match app::open_store_now(config) {
        Ok(store) => match app::start_engine(config, &store) {
            Ok(running) => {
                let ctx = crate::admin::StaffContext {
                    config: config.clone(),
                    engine: running.engine.clone(),
                    registry: running.registry.clone(),
                };
                let result = crate::admin::execute(&ctx, &command, &actor).await;
                drop(ctx);
                drop(running.engine);
                let _ = running.writer.await;
                let _ = store.flush().await;
                result
            }
            Err(e) => Err(e.to_string()),
        },
        Err(app::AppError::Locked(_)) => crate::admin::forward(config, command, actor).await,
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            // A staff command fails with its own words (`Gagal: ...` from dialogs/_cases.yaml or
            // config/agencies.toml, the same as in the staff Telegram group): no second prefix.
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// `pandu check`: every dialog problem, then the conversation tests and the phrasing corpus.
fn check(config: &Config, facts: bool, list_actions: bool) -> ExitCode {
    // The checker needs the action registry (names and outcomes) but no database: a throwaway store.
    let Ok(tmp) = tempdir() else {
        eprintln!("error: cannot create a temporary folder");
        return ExitCode::FAILURE;
    };
    let store = match crate::storage::Store::open(&tmp, 1024 * 1024) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let actions = app::actions(config, &store);
    if list_actions {
        for name in actions.names() {
            if let Some(a) = actions.get(name) {
                println!(
                    "{name}: outcomes {}; sets {}",
                    a.outcomes().join(", "),
                    a.sets().join(", ")
                );
            }
        }
    }
    // `_cases.yaml` is read by the cases part, not by the dialog loader: its problem comes first (the
    // case actions are then missing, and the loader names every node that calls one).
    let cases_error = crate::cases::CaseTexts::load(config).err();
    match &cases_error {
        Some(e @ crate::cases::CaseError::Texts(_)) => println!("{e}"),
        Some(e) => println!("error: {e}"),
        None => {}
    }
    let cases_errors = usize::from(cases_error.is_some());
    // `config/agencies.toml` is read by the registry part too (the agency check's words and the staff
    // texts of `pandu agencies`): every problem, with its line. The agency action is then missing, and
    // the loader names every node that calls it.
    let labels_errors = match crate::registry::AgencyLabels::load(&config.agencies.labels_file) {
        Ok(_) => 0,
        Err(e) => {
            println!("{e}");
            match e {
                crate::registry::LabelsError::Invalid { problems, .. } => problems.len(),
                crate::registry::LabelsError::Read { .. } => 1,
            }
        }
    };
    let file_errors = cases_errors + labels_errors;
    let (bot, warnings) = match app::load_bot(config, &actions) {
        Ok(ok) => ok,
        Err(diags) => {
            for d in &diags {
                println!("{d}");
            }
            let errors = file_errors
                + diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count();
            println!(
                "\n{errors} error(s), {} warning(s): fix the errors above",
                diags.len() + file_errors - errors
            );
            if labels_errors > 0 {
                println!(
                    "{labels_errors} error(s) in {}: fix them first (the agency check needs it)",
                    config.agencies.labels_file.display()
                );
            }
            let _ = std::fs::remove_dir_all(&tmp);
            return ExitCode::FAILURE;
        }
    };
    for w in &warnings {
        println!("{w}");
    }
    let unverified = fact_list(&bot)
        .iter()
        .filter(|f| f.1 != Confidence::High)
        .count();
    if facts {
        println!("\nGo-live checklist of facts (unverified first):");
        for (path, confidence, source, verified, note) in fact_list(&bot) {
            println!(
                "[{}] {path}\n    source: {source}\n    verified: {verified}{}",
                confidence.letter(),
                note.map(|n| format!("\n    note: {n}")).unwrap_or_default()
            );
        }
    }
    let report = transcript::run_dir(&config.dialogs.dir.join("tests"), &bot, &actions);
    let _ = std::fs::remove_dir_all(&tmp);
    let mut failed = 0;
    for e in &report.errors {
        println!("error: {e}");
    }
    for t in &report.transcripts {
        if t.failures.is_empty() {
            continue;
        }
        failed += 1;
        println!("\nFAIL {} ({})", t.name, t.file.display());
        for f in &t.failures {
            println!("  {f}");
        }
    }
    println!(
        "\n{} flows; {} warning(s); {} of {} conversation tests passed",
        bot.flows.len(),
        warnings.len(),
        report.transcripts.len() - failed,
        report.transcripts.len()
    );
    if let Some(p) = &report.phrasing {
        println!(
            "phrasing corpus: {} of {} reach their flow ({:.1}%, target {:.0}%)",
            p.correct,
            p.total,
            p.accuracy() * 100.0,
            transcript::PHRASING_TARGET * 100.0
        );
        for (text, want, got) in &p.misses {
            println!("  miss: {text:?} should reach `{want}`, reached `{got}`");
        }
    }
    println!("{unverified} fact(s) need staff verification before go-live (pandu check --facts)");
    if cases_errors > 0 {
        println!("{cases_errors} error(s) in _cases.yaml: fix the errors above");
    }
    if labels_errors > 0 {
        println!(
            "{labels_errors} error(s) in {}: fix the errors above",
            config.agencies.labels_file.display()
        );
    }
    if report.passed() && file_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

type FactRow = (String, Confidence, String, String, Option<String>);

/// Every fact of the dialogs and the facts file, least confident first.
pub fn fact_list(bot: &crate::dialog::Bot) -> Vec<FactRow> {
    let mut rows: Vec<FactRow> = Vec::new();
    for (key, fact) in &bot.facts {
        rows.push((
            format!("{{fact.{key}}} = {}", fact.value.get(Lang::Id)),
            fact.meta.confidence,
            fact.meta.source.clone(),
            fact.meta
                .verified
                .map(|d| d.to_string())
                .unwrap_or_else(|| "never".into()),
            fact.meta.note.clone(),
        ));
    }
    for flow in bot.flows.values() {
        for name in &flow.order {
            if let Some(meta) = flow.nodes.get(name).and_then(|n| n.fact.as_ref()) {
                rows.push((
                    format!("{}/{}", flow.name, name),
                    meta.confidence,
                    meta.source.clone(),
                    meta.verified
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "never".into()),
                    meta.note.clone(),
                ));
            }
        }
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows
}

fn tempdir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "pandu-check-{}-{}",
        std::process::id(),
        crate::time::now_millis()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
