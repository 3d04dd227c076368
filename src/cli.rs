//! The command line: parses arguments and runs one command. `src/main.rs` only calls [`main`].
//!
//! Output written here is for dialog authors and operators (`pandu check`, startup errors), in English.
//! What staff read from `pandu cases` and `pandu agencies` comes from their texts (`dialogs/_cases.yaml`,
//! the `[staff]` table of `config/agencies.toml`), and what the bot says to users from `dialogs/` and
//! `config/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Write a consistent copy of the database to FILE (runs inside `pandu serve` when it is running;
    /// no need to stop the bot).
    Backup { file: PathBuf },
    /// Restore a backup FILE into the data folder, which must be empty (the bot stopped).
    Restore { file: PathBuf },
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
    // Everything pandu creates (database files, attachments, the admin token) is for its own user
    // only: files 0600, folders 0700.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    // Help in the staff's language (config/cli.yaml): Indonesian unless `--lang en` or LANG=en*.
    quiet_broken_pipe();
    let args: Vec<String> = std::env::args().collect();
    let lang = crate::cli_help::help_lang(&args, crate::cli_help::env_lang().as_deref());
    let args = crate::cli_help::strip_help_lang(args);
    let cli = match crate::cli_help::localize(Cli::command(), lang)
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // A terminal chat is not drowned in the server's info lines; PANDU_LOG still decides.
    // `pandu check` is a report for people: no log line in the middle of it either.
    let chatting = matches!(
        cli.command,
        Command::Serve { chat: true, .. } | Command::Check { .. }
    );
    init_logging(if chatting { "warn" } else { "info" });
    let config = match Config::load_from_env(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if config.server.workers > 0 {
        runtime.worker_threads(config.server.workers);
    }
    let runtime = match runtime.build() {
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
        Command::Backup { file } => {
            let file = std::path::absolute(&file).unwrap_or(file);
            runtime.block_on(staff(&config, crate::admin::StaffCommand::Backup { file }))
        }
        Command::Restore { file } => restore(&config, &file),
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
    // sled logs through `log`: its recovery and corruption notes go to the same output.
    crate::log_bridge::install();
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
            eprintln!("error: --lang takes id, en or jv");
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

/// Restores a backup into the configured data folder (which must be empty). What it says is the
/// staff's words (`staff.restored`, `staff.backup_*` in `_cases.yaml`).
fn restore(config: &Config, file: &std::path::Path) -> ExitCode {
    let texts = match crate::cases::texts::CaseTexts::load(config) {
        Ok(texts) => texts,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = config.data_dir.join("db");
    match crate::storage::Store::restore(&dir, file, config.storage.cache_mb * 1024 * 1024) {
        Ok(copied) => {
            println!(
                "{}",
                crate::cases::texts::fill(
                    &texts.staff.restored,
                    &[
                        ("file", &file.display().to_string()),
                        ("records", &copied.records.to_string()),
                        ("dir", &dir.display().to_string()),
                    ],
                )
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", crate::admin::backup_error(&texts, &e));
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
    // `dialogs/_offer_rules.yaml` is read by the offer check: every problem, with its line.
    let offer_rules =
        crate::offer::OfferRules::load(&config.dialogs.dir.join(crate::offer::RULES_FILE));
    let offer_errors = match &offer_rules {
        Ok(_) => 0,
        Err(e) => {
            println!("{e}");
            e.problems.len()
        }
    };
    let file_errors = cases_errors + labels_errors + offer_errors;
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
    let mut rows = fact_list(&bot);
    if let Ok(rules) = &offer_rules {
        rows.extend(rules.fact_rows().into_iter().map(
            |(what, confidence, source, verified, note)| FactRow {
                what,
                confidence,
                source,
                verified,
                note,
                verifier: None,
            },
        ));
        sort_facts(&mut rows);
    }
    let unverified = rows
        .iter()
        .filter(|f| f.confidence != Confidence::High)
        .count();
    // With --facts the checklist comes first (`pandu check --facts | head` shows it), in the staff's
    // language (config/cli.yaml), then the Javanese texts to review, then the authors' warnings.
    if !facts {
        for w in &warnings {
            println!("{w}");
        }
    }
    if facts {
        use crate::cli_help::line;
        let lang = crate::cli_help::help_lang(
            &std::env::args().collect::<Vec<_>>(),
            crate::cli_help::env_lang().as_deref(),
        );
        println!("{}", line("facts.title", lang, &[]));
        let mut group: Option<Option<&String>> = None;
        for f in &rows {
            if group != Some(f.verifier.as_ref()) {
                group = Some(f.verifier.as_ref());
                let open = rows
                    .iter()
                    .filter(|r| r.verifier == f.verifier && r.confidence != Confidence::High)
                    .count()
                    .to_string();
                match &f.verifier {
                    Some(v) => println!(
                        "\n{}",
                        line("facts.group", lang, &[("who", v), ("open", &open)])
                    ),
                    None => println!(
                        "\n{}",
                        line("facts.group_unassigned", lang, &[("open", &open)])
                    ),
                }
            }
            println!(
                "[{}] {}\n    {}: {}\n    {}: {}{}",
                f.confidence.letter(),
                f.what,
                line("facts.source", lang, &[]),
                f.source,
                line("facts.verified", lang, &[]),
                f.verified,
                f.note
                    .as_ref()
                    .map(|n| format!("\n    {}: {n}", line("facts.note", lang, &[])))
                    .unwrap_or_default()
            );
        }
        if bot.languages.contains(&crate::dialog::Lang::Jv) {
            // Javanese texts were written by the team, not by native speakers: on the go-live list.
            let javanese = javanese_texts(&bot);
            println!(
                "\n{}",
                line(
                    "facts.javanese",
                    lang,
                    &[("n", &javanese.len().to_string())]
                )
            );
            for l in &javanese {
                println!("  {l}");
            }
        }
        if !warnings.is_empty() {
            println!(
                "\n{}",
                line(
                    "facts.warnings",
                    lang,
                    &[("n", &warnings.len().to_string())]
                )
            );
        }
        for w in &warnings {
            println!("{w}");
        }
    }
    let report = transcript::run_dir(&config.dialogs.dir.join("tests"), &bot, &actions);
    let corpus = offer_rules.as_ref().ok().map(|rules| {
        offer_corpus(
            rules,
            &store,
            &config.dialogs.dir.join("tests").join("offers"),
        )
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let mut failed = 0;
    for e in &report.errors {
        println!("error: {e}");
    }
    // The longest reply per language across the transcripts (each over the limit fails its test).
    let mut longest: std::collections::BTreeMap<crate::dialog::Lang, (usize, String)> =
        std::collections::BTreeMap::new();
    for t in &report.transcripts {
        for (lang, (chars, at)) in &t.longest {
            let slot = longest.entry(*lang).or_insert((0, String::new()));
            if *chars > slot.0 {
                *slot = (*chars, format!("{} {at}", t.file.display()));
            }
        }
    }
    for (lang, (chars, at)) in &longest {
        println!(
            "longest reply [{}]: {chars} characters (limit {}): {at}",
            lang.code(),
            crate::dialog::REPLY_MAX_CHARS
        );
    }
    // The emergency numbers differ by country: each country's message, in each language, with and
    // without a report being taken, must fit one phone screen.
    let countries: Vec<String> =
        crate::cases::contacts::Contacts::load(&config.cases.contacts_file)
            .map(|c| {
                c.countries
                    .iter()
                    .filter_map(|c| c.names.first().cloned())
                    .chain([String::new()])
                    .collect()
            })
            .unwrap_or_default();
    let emergency = transcript::emergency_messages(&bot, &actions, &countries);
    let mut emergency_long = 0;
    let mut emergency_max: std::collections::BTreeMap<crate::dialog::Lang, (usize, String)> =
        std::collections::BTreeMap::new();
    for m in &emergency {
        let chars = m.text.chars().count();
        let what = format!(
            "emergency numbers for {:?}{}",
            m.country,
            if m.in_report {
                " while a report is taken"
            } else {
                ""
            }
        );
        if chars > crate::dialog::REPLY_MAX_CHARS {
            emergency_long += 1;
            println!(
                "\nFAIL {what} [{}]: a message of {chars} characters, over one phone screen ({}): shorten `emergency` in _bot.yaml or the lines of {}:\n{}",
                m.lang.code(),
                crate::dialog::REPLY_MAX_CHARS,
                config.cases.contacts_file.display(),
                m.text
                    .lines()
                    .map(|l| format!("    | {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        let slot = emergency_max.entry(m.lang).or_insert((0, String::new()));
        if chars > slot.0 {
            *slot = (chars, what);
        }
    }
    for (lang, (chars, what)) in &emergency_max {
        println!(
            "longest emergency message [{}]: {chars} characters (limit {}): {what}",
            lang.code(),
            crate::dialog::REPLY_MAX_CHARS
        );
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
    if let Some(p) = &report.heldout {
        let langs: Vec<String> = p
            .by_lang
            .iter()
            .map(|(l, (ok, n))| format!("{l} {ok}/{n}"))
            .collect();
        println!(
            "held-out messages (written by someone who saw neither triggers nor examples): {} of {} reach the flow and node that answer ({:.1}%, target {:.0}%); by language: {}",
            p.correct,
            p.total,
            p.accuracy() * 100.0,
            transcript::HELDOUT_TARGET * 100.0,
            langs.join(", ")
        );
        let mut pairs: std::collections::BTreeMap<(String, String), usize> = Default::default();
        for (_, want, got) in &p.misses {
            *pairs.entry((want.clone(), got.clone())).or_insert(0) += 1;
        }
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let files: Vec<String> = report
            .heldout_files
            .iter()
            .map(|(name, ok, n)| format!("{name} {ok}/{n}"))
            .collect();
        println!("  by file: {}", files.join(", "));
        for ((want, got), n) in pairs.iter().take(15) {
            println!("  routed: {want} -> {got} ({n})");
        }
        for (text, want, got) in &p.misses {
            println!("  held-out miss: {text:?} should reach `{want}`, reached `{got}`");
        }
    }
    let matcher = report.matcher(&bot);
    if let Some(m) = &matcher {
        println!(
            "example matcher on the held-out messages (never trained on): {} of {} top-1 right ({:.1}%, target {:.0}%); {} confident, {} unsure, {} poor; {}-fold cross-validation of {} examples: {:.1}% (target {:.0}%)",
            m.correct,
            m.total,
            m.accuracy() * 100.0,
            transcript::MATCHER_TARGET * 100.0,
            m.confident,
            m.unsure,
            m.poor,
            transcript::FOLDS,
            bot.matcher.examples.len(),
            m.cross_validation_accuracy() * 100.0,
            transcript::CROSS_VALIDATION_TARGET * 100.0
        );
        for ((flow, lang), (ok, n)) in &m.by_flow_lang {
            println!("  {flow} [{lang}]: {ok}/{n}");
        }
        let mut pairs: Vec<_> = m.confusion.iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for ((want, got), n) in pairs.iter().take(15) {
            println!("  confused: {want} -> {got} ({n})");
        }
        for text in &m.leaked {
            println!("  held-out message is also an example (remove one): {text:?}");
        }
    }
    if let Some(e) = &report.emergency {
        println!(
            "emergency words: {} of {} emergencies caught ({:.1}%, target {:.0}%); {} false alarm(s) in {} other messages ({:.1}%, at most {:.0}%); {}",
            e.caught,
            e.emergencies,
            e.recall() * 100.0,
            transcript::EMERGENCY_RECALL_TARGET * 100.0,
            e.false_alarms.len(),
            e.others,
            e.false_alarm_rate() * 100.0,
            transcript::FALSE_ALARM_TARGET * 100.0,
            e.tiers(),
        );
        for (text, seen) in &e.missed {
            println!("  missed emergency: {text:?} (seen: {seen})");
        }
        for (text, category) in &e.false_alarms {
            println!("  false alarm: {text:?} ({category})");
        }
    }
    if let Some(cv) = &report.emergency_cv {
        println!(
            "emergency examples, {}-fold cross-validation of {} + {} labelled messages (regex OR examples at threshold {:.2}, regex alarms after the held-out second look): {} of {} caught ({:.1}%), {} false alarm(s) ({:.1}%, at most {:.0}%); the example part alone {} caught ({:.1}%, floor {:.0}%), {} false alarm(s) (at most {:.0}%); threshold for the budget: {:.2}",
            crate::dialog::emergency::FOLDS,
            cv.emergencies,
            cv.others,
            crate::dialog::emergency::THRESHOLD,
            cv.caught_combined,
            cv.emergencies,
            cv.recall_combined() * 100.0,
            cv.false_alarms_combined,
            cv.false_alarm_rate_combined() * 100.0,
            crate::dialog::emergency::CV_FALSE_ALARM_BUDGET * 100.0,
            cv.caught_examples,
            cv.recall_examples() * 100.0,
            transcript::EXAMPLE_CV_RECALL_FLOOR * 100.0,
            cv.false_alarms_examples,
            crate::dialog::emergency::CV_FALSE_ALARM_BUDGET * 100.0,
            cv.budget_threshold,
        );
    }
    if let Some(cv) = &report.second_look_cv {
        println!(
            "second look at the regex alarms, {}-fold cross-validation (quiets below {:.2}; lowest held-out emergency score {:.2}, margin at least {:.2}): {} of {} emergencies the regexes flag quieted (must be 0); {} of {} other messages would be quieted, {} of the {} the patterns flag without their ignore phrases",
            crate::dialog::emergency::FOLDS,
            crate::dialog::emergency::SECOND_LOOK_THRESHOLD,
            cv.lowest_emergency,
            crate::dialog::emergency::SECOND_LOOK_MARGIN,
            cv.emergencies_quieted,
            cv.emergencies,
            cv.others_quieted,
            cv.others,
            cv.unguarded_quieted,
            cv.unguarded,
        );
    }
    if let Some(e) = &report.emergency_unseen {
        // Counts only: the messages stay out of the output, so that whoever tunes the words on the
        // misses above does not tune on these too.
        println!(
            "emergency words on unseen messages (unseen_emergency*.yaml, never tuned on; how the words generalise, not a gate): {} of {} emergencies caught ({:.1}%); {} false alarm(s) in {} other messages ({:.1}%); {}",
            e.caught,
            e.emergencies,
            e.recall() * 100.0,
            e.false_alarms.len(),
            e.others,
            e.false_alarm_rate() * 100.0,
            e.tiers(),
        );
    }
    let mut corpus_ok = true;
    if let Some(corpus) = &corpus {
        print!("{}", corpus.table());
        for e in &corpus.errors {
            println!("  error: {e}");
        }
        for f in &corpus.failures {
            println!("  FAIL {f}");
        }
        corpus_ok = corpus.passed();
    }
    println!("{unverified} fact(s) need staff verification before go-live (pandu check --facts)");
    if offer_errors > 0 {
        println!(
            "{offer_errors} error(s) in {}: fix the errors above",
            crate::offer::RULES_FILE
        );
    }
    if cases_errors > 0 {
        println!("{cases_errors} error(s) in _cases.yaml: fix the errors above");
    }
    if labels_errors > 0 {
        println!(
            "{labels_errors} error(s) in {}: fix the errors above",
            config.agencies.labels_file.display()
        );
    }
    if report.passed()
        && emergency_long == 0
        && file_errors == 0
        && corpus_ok
        && matcher.as_ref().is_none_or(|m| m.passed())
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One line of the go-live checklist of facts.
pub struct FactRow {
    /// `{fact.key} = value` or `flow/node`.
    pub what: String,
    pub confidence: Confidence,
    pub source: String,
    pub verified: String,
    pub note: Option<String>,
    /// Who can verify it (`verify_by`), if the author said.
    pub verifier: Option<String>,
}

/// The labelled offers of `dialogs/tests/offers/`, checked against their own test registry.
fn offer_corpus(
    rules: &crate::offer::OfferRules,
    store: &crate::storage::Store,
    dir: &std::path::Path,
) -> crate::offer::corpus::CorpusReport {
    match crate::registry::Registry::load(store, &dir.join(crate::offer::corpus::REGISTRY_FILE)) {
        Ok(registry) => crate::offer::corpus::run(rules, &*registry.current(), dir),
        Err(e) => crate::offer::corpus::CorpusReport {
            errors: vec![format!(
                "{}: {e}",
                dir.join(crate::offer::corpus::REGISTRY_FILE).display()
            )],
            ..Default::default()
        },
    }
}

/// Every fact of the dialogs and the facts file, grouped by who can verify it (unassigned last), least
/// confident first within a group.
pub fn fact_list(bot: &crate::dialog::Bot) -> Vec<FactRow> {
    let mut rows: Vec<FactRow> = Vec::new();
    let row = |what: String, meta: &crate::dialog::FactMeta| FactRow {
        what,
        confidence: meta.confidence,
        source: meta.source.clone(),
        verified: meta
            .verified
            .map(|d| d.to_string())
            .unwrap_or_else(|| "never".into()),
        note: meta.note.clone(),
        verifier: meta.verifier.clone(),
    };
    for (key, fact) in &bot.facts {
        let value = if fact.is_unfilled() {
            "(not filled in: never shown to users until staff write it)".to_string()
        } else {
            fact.value.get(Lang::Id).to_string()
        };
        rows.push(row(format!("{{fact.{key}}} = {value}"), &fact.meta));
    }
    for flow in bot.flows.values() {
        for name in &flow.order {
            if let Some(meta) = flow.nodes.get(name).and_then(|n| n.fact.as_ref()) {
                rows.push(row(format!("{}/{}", flow.name, name), meta));
            }
        }
    }
    sort_facts(&mut rows);
    rows
}

/// Grouped by who can verify (unassigned last), least confident first within a group.
fn sort_facts(rows: &mut [FactRow]) {
    rows.sort_by(|a, b| {
        (a.verifier.is_none(), &a.verifier)
            .cmp(&(b.verifier.is_none(), &b.verifier))
            .then(b.confidence.cmp(&a.confidence))
            .then(a.what.cmp(&b.what))
    });
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

/// The nodes with a Javanese text, for a native speaker's review.
fn javanese_texts(bot: &crate::dialog::Bot) -> Vec<String> {
    let mut javanese = Vec::new();
    for flow in bot.flows.values() {
        for name in &flow.order {
            let Some(node) = flow.nodes.get(name) else {
                continue;
            };
            let texts: Vec<&crate::dialog::Text> = match &node.kind {
                crate::dialog::NodeKind::Message { say, .. } => vec![say],
                crate::dialog::NodeKind::Menu { say, choices } => std::iter::once(say)
                    .chain(choices.iter().map(|c| &c.label))
                    .collect(),
                crate::dialog::NodeKind::Question(q) => vec![&q.ask],
                crate::dialog::NodeKind::Action { say, .. }
                | crate::dialog::NodeKind::End { say } => say.iter().collect(),
                crate::dialog::NodeKind::Jump { .. } => vec![],
            };
            if texts
                .iter()
                .any(|t| t.0.contains_key(&crate::dialog::Lang::Jv))
            {
                javanese.push(format!("{} ({}/{name})", node.loc, flow.name));
            }
        }
    }
    javanese
}

/// `pandu check --facts | head`: when the reader of our output goes away, stop quietly (as a C
/// program killed by SIGPIPE would) instead of a panic and a backtrace. Rust ignores SIGPIPE, so a
/// write to a closed pipe fails and `println!` panics with this message; any other panic is reported
/// as before.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
