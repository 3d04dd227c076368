//! What `/metrics` shows, in the Prometheus text format (`prometheus-client`): messages in and out per
//! channel, commit latency and group sizes, outbox depth and the age of its oldest entry, send failures
//! by class, cases by status and priority, overdue cases.
//!
//! One [`Metrics`] per store ([`Store::metrics`](crate::storage::Store::metrics)): the engine, the
//! senders and the store count into it as they work; the outbox gauges are read at scrape time from
//! the counters the store's writes keep (never a scan of the database).
//!
//! Invariants: no label carries personal data or free text. Every label value is a program key from a
//! closed set (channel, failure class, case status, priority), so a chat id, a phone number or a name
//! can never appear in the output, and the number of series is bounded.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of the answer (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ChannelLabel {
    console,
    telegram,
    whatsapp,
}

impl From<crate::storage::Channel> for ChannelLabel {
    fn from(channel: crate::storage::Channel) -> ChannelLabel {
        match channel {
            crate::storage::Channel::Console => ChannelLabel::console,
            crate::storage::Channel::Telegram => ChannelLabel::telegram,
            crate::storage::Channel::Whatsapp => ChannelLabel::whatsapp,
        }
    }
}

/// Why a send did not go out.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum FailureClass {
    /// 429 or a platform throughput limit: retried after the platform's wait.
    rate_limited,
    /// Network, timeouts, 5xx: retried with backoff.
    temporary,
    /// Refused for good (blocked, no such chat, bad request): recorded as failed, never retried.
    permanent,
    /// WhatsApp: outside the 24-hour window (a template goes out, the text waits).
    window,
    /// The send went out but the store could not record it (a full disk): the channel pauses.
    unrecorded,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: ChannelLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    channel: ChannelLabel,
    class: FailureClass,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CaseLabels {
    status: &'static str,
    priority: &'static str,
}

/// Counters and histograms of one running service.
pub struct Metrics {
    registry: Registry,
    messages_in: Family<ChannelLabels, Counter>,
    duplicates: Family<ChannelLabels, Counter>,
    messages_out: Family<ChannelLabels, Counter>,
    send_failures: Family<FailureLabels, Counter>,
    commit_seconds: Histogram,
    group_messages: Histogram,
    commit_failures: Counter,
    outbox_depth: Family<ChannelLabels, Gauge>,
    outbox_oldest: Family<ChannelLabels, Gauge>,
    write_failing: Gauge,
    cases: Family<CaseLabels, Gauge>,
    overdue: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pandu");
        let messages_in = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "messages_in",
            "Messages from users committed (acknowledged to the platform), per channel",
            messages_in.clone(),
        );
        let duplicates = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "messages_duplicate",
            "Redelivered messages recognised and skipped, per channel",
            duplicates.clone(),
        );
        let messages_out = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "messages_out",
            "Replies the platform accepted, per channel",
            messages_out.clone(),
        );
        let send_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "send_failures",
            "Send attempts that did not go out, per channel and class",
            send_failures.clone(),
        );
        // 0.1 ms .. about 3.3 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "commit_seconds",
            "Time of one group commit (write and flush), seconds",
            commit_seconds.clone(),
        );
        let group_messages = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "commit_group_messages",
            "Messages that shared one commit",
            group_messages.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "commit_failures",
            "Group commits that failed after their retries (nothing in them was acknowledged)",
            commit_failures.clone(),
        );
        let outbox_depth = Family::<ChannelLabels, Gauge>::default();
        registry.register(
            "outbox_depth",
            "Replies waiting to be sent, per channel",
            outbox_depth.clone(),
        );
        let outbox_oldest = Family::<ChannelLabels, Gauge>::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest reply waiting, per channel (0 when none waits)",
            outbox_oldest.clone(),
        );
        let write_failing = Gauge::default();
        registry.register(
            "store_write_failing",
            "1 while the database cannot write (a full disk), else 0",
            write_failing.clone(),
        );
        let cases = Family::<CaseLabels, Gauge>::default();
        registry.register("cases", "Cases per status and priority", cases.clone());
        let overdue = Gauge::default();
        registry.register(
            "cases_overdue",
            "Open cases with no staff reply past their response target",
            overdue.clone(),
        );
        Metrics {
            registry,
            messages_in,
            duplicates,
            messages_out,
            send_failures,
            commit_seconds,
            group_messages,
            commit_failures,
            outbox_depth,
            outbox_oldest,
            write_failing,
            cases,
            overdue,
        }
    }

    pub fn message_in(&self, channel: crate::storage::Channel, duplicate: bool) {
        let labels = ChannelLabels {
            channel: channel.into(),
        };
        if duplicate {
            self.duplicates.get_or_create(&labels).inc();
        } else {
            self.messages_in.get_or_create(&labels).inc();
        }
    }

    pub fn message_out(&self, channel: crate::storage::Channel) {
        self.messages_out
            .get_or_create(&ChannelLabels {
                channel: channel.into(),
            })
            .inc();
    }

    pub fn send_failure(&self, channel: crate::storage::Channel, class: FailureClass) {
        self.send_failures
            .get_or_create(&FailureLabels {
                channel: channel.into(),
                class,
            })
            .inc();
    }

    /// One group commit: how long it took, how many messages it carried, whether it held.
    pub fn commit(&self, took: Duration, messages: usize, ok: bool) {
        self.commit_seconds.observe(took.as_secs_f64());
        self.group_messages.observe(messages as f64);
        if !ok {
            self.commit_failures.inc();
        }
    }

    /// The outbox of a channel right now (from the store's counters).
    pub(crate) fn set_outbox(&self, channel: crate::storage::Channel, depth: usize, oldest: u64) {
        let labels = ChannelLabels {
            channel: channel.into(),
        };
        self.outbox_depth
            .get_or_create(&labels)
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
        self.outbox_oldest
            .get_or_create(&labels)
            .set(i64::try_from(oldest).unwrap_or(i64::MAX));
    }

    pub(crate) fn set_write_failing(&self, failing: bool) {
        self.write_failing.set(i64::from(failing));
    }

    /// Cases right now: `(status, priority) → count`, and how many are overdue.
    pub fn set_cases(
        &self,
        counts: impl IntoIterator<Item = ((&'static str, &'static str), usize)>,
        overdue: usize,
    ) {
        self.cases.clear();
        for ((status, priority), n) in counts {
            self.cases
                .get_or_create(&CaseLabels { status, priority })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.overdue.set(i64::try_from(overdue).unwrap_or(i64::MAX));
    }

    /// The text a scrape gets.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Channel;

    #[test]
    fn counters_show_with_their_channel_and_class_only() {
        let metrics = Metrics::new();
        metrics.message_in(Channel::Whatsapp, false);
        metrics.message_in(Channel::Whatsapp, true);
        metrics.message_out(Channel::Telegram);
        metrics.send_failure(Channel::Telegram, FailureClass::rate_limited);
        metrics.commit(Duration::from_millis(2), 3, true);
        metrics.set_cases([(("new", "P1"), 2)], 1);
        let text = metrics.encode();
        assert!(
            text.contains("pandu_messages_in_total{channel=\"whatsapp\"} 1"),
            "{text}"
        );
        assert!(text.contains("pandu_messages_duplicate_total{channel=\"whatsapp\"} 1"));
        assert!(text.contains("pandu_messages_out_total{channel=\"telegram\"} 1"));
        assert!(
            text.contains(
                "pandu_send_failures_total{channel=\"telegram\",class=\"rate_limited\"} 1"
            )
        );
        assert!(text.contains("pandu_commit_seconds_count 1"));
        assert!(text.contains("pandu_cases{status=\"new\",priority=\"P1\"} 2"));
        assert!(text.contains("pandu_cases_overdue 1"));
    }
}
