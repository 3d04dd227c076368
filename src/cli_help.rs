//! The command line's help in the staff's language: Indonesian by default, English with `--lang en` or
//! a `LANG`/`LC_ALL`/`LC_MESSAGES` that starts with `en`.
//!
//! The texts live in `config/cli.yaml`, built into the binary (help must work before any config file is
//! found). Each command and argument of the clap tree has an entry there; a test walks the tree and
//! fails on one that is missing, so the doc comments in the Rust source are never what staff read.
//! clap's own error messages ("unexpected argument ...") stay in English.

use std::collections::HashMap;

use clap::{Arg, ArgAction, Command};
use serde::Deserialize;

/// `config/cli.yaml`, as built into the binary.
pub const SOURCE: &str = include_str!("../config/cli.yaml");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpLang {
    Id,
    En,
}

#[derive(Debug, Deserialize)]
struct Texts {
    /// Headings and the words of the built-in flags, per language.
    words: HashMap<String, Words>,
    /// Key: the command path after `pandu` (`""` for pandu itself, `cases reply`), or the path, a
    /// space and the argument's id (`cases reply code`, `chat lang`).
    help: HashMap<String, Pair>,
    /// Lines printed for staff by the commands themselves (`pandu check --facts`), by key.
    #[serde(default)]
    lines: HashMap<String, Pair>,
}

#[derive(Debug, Deserialize)]
struct Words {
    usage: String,
    commands: String,
    options: String,
    arguments: String,
    command: String,
    help: String,
    version: String,
}

#[derive(Debug, Deserialize)]
struct Pair {
    id: String,
    en: String,
}

impl Pair {
    fn get(&self, lang: HelpLang) -> &str {
        match lang {
            HelpLang::Id => &self.id,
            HelpLang::En => &self.en,
        }
    }
}

/// The help language for these arguments and environment, and the arguments to parse: a `--lang X`
/// that only chose the help's language (next to `--help`, in a command that has no `--lang` of its
/// own) is taken out.
pub fn help_lang(args: &[String], env_lang: Option<&str>) -> HelpLang {
    let mut lang = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let value = if a == "--lang" {
            it.next().map(String::as_str)
        } else {
            a.strip_prefix("--lang=")
        };
        if let Some(v) = value {
            lang = Some(v.to_ascii_lowercase());
        }
    }
    match lang.as_deref() {
        Some(l) if l.starts_with("en") => HelpLang::En,
        Some(_) => HelpLang::Id,
        None => match env_lang {
            Some(l) if l.to_ascii_lowercase().starts_with("en") => HelpLang::En,
            _ => HelpLang::Id,
        },
    }
}

/// The language named by the environment, as the C library would pick it for messages.
pub fn env_lang() -> Option<String> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
}

/// Takes out a `--lang X` that a command without its own `--lang` would refuse, when help is asked
/// for: `pandu cases --help --lang en` shows the English help instead of an error.
pub fn strip_help_lang(args: Vec<String>) -> Vec<String> {
    let wants_help = args.iter().any(|a| a == "--help" || a == "-h");
    let own_lang = args.iter().any(|a| a == "chat" || a == "serve");
    if !wants_help || own_lang {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--lang" {
            it.next();
        } else if !a.starts_with("--lang=") {
            out.push(a);
        }
    }
    out
}

/// A line for staff from `config/cli.yaml` (`lines:`), with each `{name}` replaced by its value.
/// An unknown key gives the key itself (a test checks every key the program uses).
pub fn line(key: &str, lang: HelpLang, values: &[(&str, &str)]) -> String {
    let texts: Option<Texts> = serde_saphyr::from_str(SOURCE).ok();
    let mut out = texts
        .as_ref()
        .and_then(|t| t.lines.get(key))
        .map_or_else(|| key.to_string(), |p| p.get(lang).to_string());
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The keys of `lines:` the program uses.
pub const LINE_KEYS: &[&str] = &[
    "facts.title",
    "facts.group",
    "facts.group_unassigned",
    "facts.source",
    "facts.verified",
    "facts.note",
    "facts.javanese",
    "facts.warnings",
];

/// The clap tree with every help text, heading and built-in flag in `lang`. A text missing from
/// `config/cli.yaml` leaves the doc comment (the test below forbids that).
pub fn localize(cmd: Command, lang: HelpLang) -> Command {
    let texts: Texts = match serde_saphyr::from_str(SOURCE) {
        Ok(t) => t,
        // Built into the binary and parsed by a test: cannot happen in a release, and help in
        // English is better than no help.
        Err(_) => return cmd,
    };
    let key = match lang {
        HelpLang::Id => "id",
        HelpLang::En => "en",
    };
    let Some(words) = texts.words.get(key) else {
        return cmd;
    };
    let cmd = cmd.disable_version_flag(true).arg(
        Arg::new("version")
            .short('V')
            .long("version")
            .action(ArgAction::Version)
            .help(words.version.clone())
            .help_heading(words.options.clone()),
    );
    walk(cmd, "", &texts, words, lang)
}

fn walk(cmd: Command, path: &str, texts: &Texts, words: &Words, lang: HelpLang) -> Command {
    let mut cmd = cmd
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{}: {{usage}}\n\n{{all-args}}{{after-help}}",
            words.usage
        ))
        .subcommand_help_heading(words.commands.clone())
        .subcommand_value_name(words.command.clone())
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(words.help.clone())
                .help_heading(words.options.clone()),
        );
    if let Some(about) = texts.help.get(path) {
        cmd = cmd.about(about.get(lang).to_string()).long_about(None);
    }
    let args: Vec<(String, bool)> = cmd
        .get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .map(|a| (a.get_id().to_string(), a.is_positional()))
        .collect();
    for (id, positional) in args {
        let text = texts
            .help
            .get(format!("{path} {id}").trim_start())
            .map(|p| p.get(lang).to_string());
        let heading = if positional {
            words.arguments.clone()
        } else {
            words.options.clone()
        };
        cmd = cmd.mut_arg(id, |a| {
            let a = a.help_heading(heading);
            match text {
                Some(t) => a.help(t).long_help(None),
                None => a,
            }
        });
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subs {
        let sub_path = format!("{path} {name}").trim_start().to_string();
        cmd = cmd.mut_subcommand(name, |s| walk(s, &sub_path, texts, words, lang));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn texts() -> Texts {
        serde_saphyr::from_str(SOURCE).expect("config/cli.yaml parses")
    }

    /// Every command and argument of the tree, by its key in `config/cli.yaml`.
    fn keys(cmd: &Command, path: &str, out: &mut Vec<String>) {
        out.push(path.to_string());
        for a in cmd.get_arguments() {
            if !matches!(a.get_id().as_str(), "help" | "version") {
                out.push(format!("{path} {}", a.get_id()).trim_start().to_string());
            }
        }
        for s in cmd.get_subcommands() {
            keys(s, format!("{path} {}", s.get_name()).trim_start(), out);
        }
    }

    #[test]
    fn every_command_and_argument_has_both_languages() {
        let texts = texts();
        let mut all = Vec::new();
        keys(&crate::cli::Cli::command(), "", &mut all);
        let missing: Vec<_> = all
            .iter()
            .filter(|k| !texts.help.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty(),
            "missing in config/cli.yaml: {missing:?}"
        );
        let unused: Vec<_> = texts.help.keys().filter(|k| !all.contains(k)).collect();
        assert!(
            unused.is_empty(),
            "config/cli.yaml names no such command: {unused:?}"
        );
        for (k, p) in &texts.help {
            assert!(!p.id.trim().is_empty() && !p.en.trim().is_empty(), "{k}");
        }
        assert!(texts.words.contains_key("id") && texts.words.contains_key("en"));
        for k in LINE_KEYS {
            assert!(texts.lines.contains_key(*k), "lines: {k} missing");
        }
        assert_eq!(
            line(
                "facts.group",
                HelpLang::Id,
                &[("who", "bp3mi"), ("open", "3")]
            ),
            "== diperiksa oleh: bp3mi (3 perlu diverifikasi) =="
        );
    }

    fn help_of(lang: HelpLang, args: &[&str]) -> String {
        let cmd = localize(crate::cli::Cli::command(), lang);
        match cmd.try_get_matches_from(args) {
            Ok(_) => panic!("help was not printed"),
            Err(e) => e.render().to_string(),
        }
    }

    #[test]
    fn help_is_indonesian_by_default_and_english_on_request() {
        let id = help_of(HelpLang::Id, &["pandu", "--help"]);
        assert!(
            id.contains("Pemakaian:") && id.contains("Perintah:"),
            "{id}"
        );
        assert!(!id.contains("Usage:") && !id.contains("Print help"), "{id}");
        let en = help_of(HelpLang::En, &["pandu", "--help"]);
        assert!(en.contains("Usage:") && en.contains("Commands:"), "{en}");
        let reply = help_of(HelpLang::Id, &["pandu", "cases", "reply", "--help"]);
        assert!(reply.contains("Argumen:"), "{reply}");
        assert!(!reply.contains("Send a message"), "{reply}");
    }

    #[test]
    fn the_language_comes_from_the_flag_then_the_environment() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(help_lang(&args("pandu --help"), None), HelpLang::Id);
        assert_eq!(
            help_lang(&args("pandu --help"), Some("en_US.UTF-8")),
            HelpLang::En
        );
        assert_eq!(
            help_lang(&args("pandu cases --help --lang en"), Some("id_ID.UTF-8")),
            HelpLang::En
        );
        assert_eq!(
            help_lang(&args("pandu --help --lang=id"), Some("en_GB")),
            HelpLang::Id
        );
        assert_eq!(
            strip_help_lang(args("pandu cases --help --lang en")),
            args("pandu cases --help")
        );
        // `chat --lang en` is the conversation's language: kept.
        assert_eq!(
            strip_help_lang(args("pandu chat --lang en --help")),
            args("pandu chat --lang en --help")
        );
    }
}
