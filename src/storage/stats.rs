//! What the desk shows about use, kept by the engine's writer in its own commits: the messages Pandu
//! did not understand (masked) and counters per day (conversations per channel, flows entered).
//!
//! Keys in the kernel tree:
//! - `n:<at, 16 hex>:<seq, 16 hex>` → [`Unanswered`]: one message that got only the fallback, its
//!   text masked by [`mask`] *before* it reaches this module; swept after `retention.unanswered_days`
//!   (see `retention`);
//! - `k:d:<date WIB>:<channel>` → count (8 bytes, big endian): conversations that day, i.e. users who
//!   wrote that day (counted at their first message of the day);
//! - `k:f:<date WIB>:<flow>` → count: inputs that entered that flow that day.
//!
//! Invariants:
//! - No personal data: an [`Unanswered`] has no user key and its text is masked (every digit, and
//!   whole words shaped like a phone number, NIK, e-mail or passport number); counters are counts.
//! - Counters are written only by the engine's single writer, as read-modify-write inside the same
//!   atomic batch as the messages they count ([`Store::count`] + [`WriteBatch::put_count`]): a message
//!   is counted exactly when it is committed.

use serde::{Deserialize, Serialize};

use super::{Channel, Result, Store, WriteBatch, decode, encode};

/// A message that ended in the fallback, masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unanswered {
    pub at: u64,
    /// `flow/node` where the user was, or `-` (no flow).
    pub node: String,
    /// The masked text ([`mask`]).
    pub text: String,
}

/// What stands for a masked number-like word.
pub const MASK_NUMBER: &str = "[#]";
/// What stands for a masked e-mail address.
pub const MASK_EMAIL: &str = "[@]";
/// The longest masked text kept (characters).
const MAX_CHARS: usize = 300;

/// Masks a message before it is stored: lower case, one space between words; a word with a digit in
/// it (phone numbers with or without `+62` and separators, NIK, passport numbers such as `C1234567`,
/// amounts, dates) becomes [`MASK_NUMBER`], a word with `@` becomes [`MASK_EMAIL`], and a run of
/// masked words collapses into one (`0812 3456 7890` is one mask). Cut at 300 characters.
pub fn mask(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let lower = text.to_lowercase();
    for word in lower.split_whitespace() {
        let masked = if word.contains('@') {
            Some(MASK_EMAIL)
        } else if word.chars().any(|c| c.is_numeric()) {
            Some(MASK_NUMBER)
        } else if word.chars().all(|c| "+-().,/".contains(c)) {
            // The separators of a number typed in pieces (`0812 - 3456`).
            out.last()
                .filter(|w| **w == MASK_NUMBER)
                .map(|_| MASK_NUMBER)
        } else {
            None
        };
        match masked {
            Some(m) if out.last() == Some(&m) => {}
            Some(m) => out.push(m),
            None => out.push(word),
        }
    }
    let joined = out.join(" ");
    match joined.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => joined[..cut].to_string(),
        None => joined,
    }
}

fn unanswered_key(at: u64, seq: u64) -> Vec<u8> {
    format!("n:{at:016x}:{seq:016x}").into_bytes()
}

/// The key of a day's conversation counter of a channel (`date` as `2026-11-30`, WIB).
pub fn day_key(date: &str, channel: Channel) -> Vec<u8> {
    format!("k:d:{date}:{}", channel.as_str()).into_bytes()
}

/// The key of a day's counter of a flow.
pub fn flow_key(date: &str, flow: &str) -> Vec<u8> {
    format!("k:f:{date}:{flow}").into_bytes()
}

/// The date (WIB, UTC+7) of a unix time, as the counters name days.
pub fn wib_date(secs: u64) -> String {
    crate::time::Date::from_unix(secs.saturating_add(7 * 3600)).to_string()
}

impl WriteBatch {
    /// Stores a message that got the fallback; `text` must already be masked.
    pub fn put_unanswered(&mut self, seq: u64, entry: &Unanswered) -> Result<()> {
        self.put(unanswered_key(entry.at, seq), encode(entry)?);
        Ok(())
    }

    /// Sets a counter (the writer read it with [`Store::count`] and added its own).
    pub fn put_count(&mut self, key: Vec<u8>, value: u64) {
        self.put(key, value.to_be_bytes().to_vec());
    }
}

fn count_of(v: &[u8]) -> u64 {
    <[u8; 8]>::try_from(v).map(u64::from_be_bytes).unwrap_or(0)
}

impl Store {
    /// A counter's value (0 when never counted).
    pub fn count(&self, key: &[u8]) -> Result<u64> {
        Ok(self.kernel()?.get(key)?.map(|v| count_of(&v)).unwrap_or(0))
    }

    /// Day counters from `from` to `to` (dates, inclusive) as `(date, name, count)`; `kind` is
    /// `d` (conversations per channel) or `f` (flows).
    pub fn day_counts(
        &self,
        kind: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, String, u64)>> {
        let start = format!("k:{kind}:{from}").into_bytes();
        // `;` follows `:` : past every key of the last day.
        let end = format!("k:{kind}:{to};").into_bytes();
        let mut out = Vec::new();
        for item in self.kernel()?.range(start..end) {
            let (k, v) = item?;
            let text = String::from_utf8_lossy(&k[4..]).into_owned();
            if let Some((date, name)) = text.split_once(':') {
                out.push((date.to_string(), name.to_string(), count_of(&v)));
            }
        }
        Ok(out)
    }

    /// Messages not understood since `since` (unix seconds), oldest first, at most `limit`.
    pub fn unanswered_since(&self, since: u64, limit: usize) -> Result<Vec<Unanswered>> {
        let start = format!("n:{since:016x}").into_bytes();
        let mut out = Vec::new();
        for item in self.kernel()?.range(start..b"n;".to_vec()).take(limit) {
            let (k, v) = item?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbers_addresses_and_ids_are_masked() {
        assert_eq!(
            mask("Nomer sy 0812-3456-7890 NIK 3375011203980001 email budi.s@gmail.com"),
            "nomer sy [#] nik [#] email [@]"
        );
        assert_eq!(mask("paspor C1234567 ilang"), "paspor [#] ilang");
        assert_eq!(mask("+62 812 3456 7890 tlg"), "[#] tlg");
        assert_eq!(mask("wa 0812 - 3456 - 789"), "wa [#]");
        assert_eq!(mask("gaji   blm  DIBAYAR"), "gaji blm dibayar");
        assert!(!mask(&"x".repeat(1000)).is_empty());
        assert_eq!(mask(&"ab ".repeat(400)).chars().count(), 300);
    }

    #[tokio::test]
    async fn counters_and_entries_read_back_by_day() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let mut batch = WriteBatch::default();
        batch.put_count(day_key("2026-11-29", Channel::Whatsapp), 3);
        batch.put_count(day_key("2026-11-30", Channel::Telegram), 2);
        batch.put_count(flow_key("2026-11-30", "lapor"), 5);
        for (at, seq) in [(100, 1), (200, 2)] {
            batch
                .put_unanswered(
                    seq,
                    &Unanswered {
                        at,
                        node: "-".into(),
                        text: "apa".into(),
                    },
                )
                .unwrap();
        }
        store.apply(batch).unwrap();
        assert_eq!(store.count(&flow_key("2026-11-30", "lapor")).unwrap(), 5);
        assert_eq!(
            store.day_counts("d", "2026-11-30", "2026-11-30").unwrap(),
            [("2026-11-30".into(), "telegram".into(), 2)]
        );
        assert_eq!(
            store
                .day_counts("d", "2026-11-01", "2026-11-30")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(store.unanswered_since(150, 10).unwrap().len(), 1);
    }
}
