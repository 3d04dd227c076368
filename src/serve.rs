//! `pandu serve`: the long-running process. Loads config and dialogs, opens the store, starts the engine,
//! the HTTP server and every configured channel, and shuts down gracefully on SIGTERM or ctrl-c: stop
//! taking input, let in-flight commits finish, flush. SIGHUP reloads the dialogs if they pass the checker.
//!
//! Invariant: never starts on invalid dialogs; a reload that fails the checker changes nothing.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;

use crate::app;
use crate::config::Config;
use crate::dialog::Severity;
use crate::engine::Engine;
use crate::web;

/// Options of `pandu serve` beyond the config file.
#[derive(Debug, Default)]
pub struct ServeOptions {
    /// Listen address (overrides `server.listen`).
    pub listen: Option<String>,
    /// Also chat with the bot in this terminal (the console channel); end of input stops the server.
    pub chat: Option<crate::channels::console::ConsoleOptions>,
}

pub async fn run(config: Config, options: ServeOptions) -> ExitCode {
    match serve(config, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// For the fault harness (`tests/fault.rs`) only: while the file this names exists, every write fails
/// as on a full disk (the store's write-fault switch, sticky until the database is reopened, as sled
/// is after a real IO error); removing it frees the disk. Unset in production: nothing is watched.
pub const WRITE_FAULT_FILE_ENV: &str = "PANDU_TEST_WRITE_FAULT_FILE";

/// Looks at the fault file every 50 ms and sets the write-fault switch to match.
fn watch_fault_file(
    store: crate::storage::Store,
    path: std::path::PathBuf,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tracing::warn!("write-fault file watched: writes fail while it exists (fault tests only)");
    tokio::spawn(async move {
        let mut on = false;
        loop {
            let exists = path.exists();
            if exists != on {
                on = exists;
                store.set_write_fault(if on {
                    crate::storage::WriteFault::UntilReopen
                } else {
                    crate::storage::WriteFault::Off
                });
                tracing::warn!(full = on, "write-fault file changed");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
                _ = shutdown.changed() => break,
            }
        }
    })
}

async fn serve(config: Config, options: ServeOptions) -> anyhow::Result<()> {
    use anyhow::Context;
    let store = app::open_store(&config)?;
    // A token file others can read is refused before the dialogs load (seconds): the fix is known
    // at once, not after the start (`admin::write_token` checks it again when it writes).
    app::check_private(&crate::admin::token_path(&config))
        .map_err(anyhow::Error::msg)
        .context("cannot write the admin token")?;
    let running = app::start_engine(&config, &store)?;
    let engine = running.engine.clone();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let secrets = crate::config::Secrets::from_env();
    let mut channels = BTreeMap::new();
    let router = axum::Router::new();
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let (telegram_state, telegram_router, telegram_tasks) =
        start_telegram(&config, &secrets, &engine, shutdown_rx.clone()).await;
    channels.insert("telegram".to_string(), telegram_state);
    let router = router.merge(telegram_router);
    let (router, whatsapp_state, whatsapp_sender) =
        start_whatsapp(&config, &engine, shutdown_rx.clone(), router);
    channels.insert("whatsapp".to_string(), whatsapp_state);
    for (name, state) in &channels {
        tracing::info!(channel = %name, state = %state, "channel");
    }

    tasks.push(crate::cases::spawn_reminders(
        engine.clone(),
        config.clone(),
        shutdown_rx.clone(),
    ));
    tasks.push(crate::storage::retention::spawn_sweeper(
        store.clone(),
        config.retention.policy(),
        crate::storage::retention::SweepPace {
            every: std::time::Duration::from_secs(config.retention.sweep_minutes.max(1) * 60),
            ..Default::default()
        },
        shutdown_rx.clone(),
    ));
    if let Some(path) = std::env::var_os(WRITE_FAULT_FILE_ENV) {
        tasks.push(watch_fault_file(
            store.clone(),
            path.into(),
            shutdown_rx.clone(),
        ));
    }
    let token = crate::admin::write_token(&config).context("cannot write the admin token")?;
    let admin = crate::admin::router(
        crate::admin::StaffContext {
            config: config.clone(),
            engine: engine.clone(),
            registry: running.registry.clone(),
        },
        token,
    );
    let router = router.merge(admin);
    let health = web::router(web::HealthState {
        engine: engine.clone(),
        channels: Arc::new(channels),
    });
    let router = router.merge(health);
    let router = router.merge(web::metrics::router(engine.clone(), config.clone()));
    let addr = options
        .listen
        .unwrap_or_else(|| config.server.listen.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(addr.clone());
    // The staff desk (/staff): mounted once the address is known, so it can say where it is.
    let router = match web::desk::start(engine.clone(), &config, &bound, shutdown_rx.clone()).await
    {
        Some(desk) => router.merge(desk),
        None => router,
    };
    if let Some(chat) = options.chat {
        // A line for the person at the terminal, before the bot's first words.
        eprintln!("pandu: http://{bound}/healthz is up; chat below (ctrl-d stops the server)");
        let engine = engine.clone();
        let stop = shutdown_tx.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::channels::console::run(&engine, chat).await {
                tracing::error!(error = %e, "console chat failed");
            }
            let _ = stop.send(true);
        }));
    }

    tasks.push(tokio::spawn(reload_on_hangup(
        config.clone(),
        engine.clone(),
        running.actions.clone(),
    )));

    let stop = shutdown_rx.clone();
    let signal_tx = shutdown_tx.clone();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("shutting down: no new input; finishing commits");
        let _ = signal_tx.send(true);
    });
    crate::admin::write_address(&config, &bound)
        .context("cannot write the server's address next to the admin token")?;
    // Said only once staff commands can find the server (tests and operators wait for this line).
    tracing::info!(address = %bound, "listening");
    web::server::serve(
        listener,
        router,
        web::server::Limits::from_config(&config.server),
        stop,
    )
    .await;
    let _ = shutdown_tx.send(true);
    let _ = std::fs::remove_file(crate::admin::token_path(&config));
    let _ = std::fs::remove_file(crate::admin::address_path(&config));
    stop_telegram(telegram_tasks).await;
    if let Some(sender) = whatsapp_sender {
        stop_whatsapp(sender).await;
    }
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    drop(engine);
    drop(running.engine);
    // The writer ends once every engine handle is gone. A worker that still holds one (a download in
    // flight, a task that did not stop) must not keep the process alive: every message that was
    // acknowledged is already flushed, so after a grace period we flush and leave.
    if tokio::time::timeout(std::time::Duration::from_secs(5), running.writer)
        .await
        .is_err()
    {
        tracing::warn!("a worker still holds the engine after 5 s; stopping anyway");
    }
    store.flush().await.context("final flush failed")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Telegram, when `PANDU_TELEGRAM_TOKEN` is set: its state for `/healthz` ("on" or "off: reason"), its
/// webhook route (empty in polling mode) and its tasks (poller or webhook registration, outbox sender).
async fn start_telegram(
    config: &Config,
    secrets: &crate::config::Secrets,
    engine: &Engine,
    shutdown: crate::channels::Shutdown,
) -> (String, axum::Router, Vec<tokio::task::JoinHandle<()>>) {
    use crate::channels::telegram::Telegram;
    let staff: Option<Arc<dyn crate::channels::StaffCommands>> =
        match crate::cases::TelegramStaff::new(engine.clone(), config) {
            Ok(staff) => Some(Arc::new(staff)),
            Err(e) => {
                tracing::warn!(error = %e, "telegram staff commands off");
                None
            }
        };
    match Telegram::from_config(config, secrets, engine.clone(), staff) {
        Ok(telegram) => {
            tracing::info!(mode = ?telegram.mode(), "telegram on");
            let tasks = telegram.start(shutdown).await;
            ("on".to_string(), telegram.router(), tasks)
        }
        Err(e) => (format!("off: {e}"), axum::Router::new(), Vec::new()),
    }
}

/// Telegram's tasks end by themselves on the shutdown signal (the sender records what is in flight);
/// one that hangs is cut after a few seconds (unconfirmed updates come again, unrecorded sends go again).
async fn stop_telegram(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for mut task in tasks {
        if tokio::time::timeout(std::time::Duration::from_secs(10), &mut task)
            .await
            .is_err()
        {
            tracing::warn!("a telegram task did not stop in time");
            task.abort();
            let _ = task.await;
        }
    }
}

/// The WhatsApp channel, when its four secrets are set: the webhook routes (`/webhooks/whatsapp`) are
/// merged into `router` and the outbox sender runs until `shutdown`. Returns the router, the state shown
/// by `/healthz` (`on`, or `off: <reason>`) and the sender's task.
fn start_whatsapp(
    config: &Config,
    engine: &Engine,
    shutdown: crate::channels::Shutdown,
    router: axum::Router,
) -> (axum::Router, String, Option<tokio::task::JoinHandle<()>>) {
    let secrets = crate::config::Secrets::from_env();
    match crate::channels::whatsapp::WhatsApp::from_config(config, &secrets, engine.clone()) {
        Ok(whatsapp) => {
            let sender = whatsapp.spawn_sender(shutdown);
            (
                router.merge(whatsapp.router()),
                "on".to_string(),
                Some(sender),
            )
        }
        Err(reason) => (router, format!("off: {reason}"), None),
    }
}

/// Lets the WhatsApp sender finish the message in flight (it stops on the shutdown signal); a send that
/// hangs is cut after a few seconds and goes out again after the restart (delivery is at least once).
async fn stop_whatsapp(mut sender: tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(std::time::Duration::from_secs(5), &mut sender)
        .await
        .is_err()
    {
        sender.abort();
        let _ = sender.await;
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn reload_on_hangup(config: Config, engine: Engine, actions: crate::dialog::Actions) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match app::load_bot(&config, &actions) {
                Ok((bot, warnings)) => {
                    tracing::info!(
                        flows = bot.flows.len(),
                        warnings = warnings.len(),
                        "dialogs reloaded"
                    );
                    engine.replace_bot(bot);
                }
                Err(diags) => {
                    let errors = diags
                        .iter()
                        .filter(|d| d.severity == Severity::Error)
                        .count();
                    for d in diags.iter().filter(|d| d.severity == Severity::Error) {
                        tracing::error!("{d}");
                    }
                    tracing::error!(
                        errors,
                        "dialog reload refused; the previous dialogs keep serving"
                    );
                }
            }
        }
    }
}
